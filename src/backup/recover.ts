/**
 * Turns a backup back into a running-ready cluster: the base unpacked into `<dir>/.trellis/pg`
 * (owned by the database's user, 0700) with its backup_label, the WAL fetched from the target into
 * `<dir>/.trellis/wal-restore`, recovery settings and recovery.signal, then one start of the
 * cluster that replays up to the target and promotes, and a clean stop.
 */
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import pg from 'pg';
import type { Config } from '../config.js';
import { embeddedOwner, inRecovery, startEmbedded } from '../db/index.js';
import { FatalError, errorMessage } from '../errors.js';
import type { BackupProgress } from './create.js';
import type { EmbeddedManifest, Piece } from './manifest.js';
import { extractTar } from './tar.js';
import type { BackupTarget } from './target.js';
import { segmentPosition, shippedWal, walBytes } from './wal.js';

export type RecoveryTarget =
  | { readonly kind: 'latest' }
  | { readonly kind: 'time'; readonly time: string }
  | { readonly kind: 'lsn'; readonly lsn: string };

/** A piece whose bytes do not match the manifest. */
export interface PieceProblem {
  readonly piece: string;
  readonly message: string;
}

function checking(piece: Piece, problems: PieceProblem[]): Transform {
  const hash = crypto.createHash('sha256');
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, callback) {
      size += chunk.length;
      hash.update(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      const sha256 = hash.digest('hex');
      if (sha256 !== piece.sha256 || size !== piece.size)
        problems.push({
          piece: piece.name,
          message: `checksum mismatch (${size} bytes, sha256 ${sha256.slice(0, 12)}…; the manifest says ${piece.size} bytes, ${piece.sha256.slice(0, 12)}…)`,
        });
      callback();
    },
  });
}

async function unpackPiece(
  target: BackupTarget,
  id: string,
  piece: Piece,
  dest: string,
  problems: PieceProblem[],
  onBytes: (n: number) => void,
): Promise<void> {
  const source = await target.get(`${id}/${piece.name}`);
  const counted = source.pipe(checking(piece, problems));
  counted.on('data', (c: Buffer) => onBytes(c.length));
  source.on('error', (err) => counted.destroy(err));
  const gunzip = zlib.createGunzip();
  counted.on('error', (err) => gunzip.destroy(err));
  counted.pipe(gunzip);
  try {
    await extractTar(gunzip, dest);
  } catch (err) {
    throw new FatalError(`backup ${id}: piece ${piece.name} cannot be unpacked: ${errorMessage(err)}`);
  }
}

async function readPiece(target: BackupTarget, id: string, piece: Piece, problems: PieceProblem[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of (await target.get(`${id}/${piece.name}`)).pipe(checking(piece, problems)))
    chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface UnpackOptions {
  readonly target: BackupTarget;
  readonly manifest: EmbeddedManifest;
  /** The project folder to fill (its `.trellis/` and `supabase/`). */
  readonly dir: string;
  readonly progress: BackupProgress;
  /** verify goes on past a checksum mismatch to find which tables it touches; restore stops. */
  readonly stopOnMismatch: boolean;
}

export async function unpackBackup(options: UnpackOptions): Promise<PieceProblem[]> {
  const { target, manifest, dir, progress } = options;
  const problems: PieceProblem[] = [];
  const check = () => {
    if (options.stopOnMismatch && problems.length > 0)
      throw new FatalError(
        `backup ${manifest.id}: piece ${problems[0]!.piece}: ${problems[0]!.message}; restore another backup`,
      );
  };
  const dataDir = path.join(dir, '.trellis');
  const pgDir = path.join(dataDir, 'pg');
  await fsp.mkdir(dataDir, { recursive: true, mode: 0o711 });
  await fsp.chmod(dataDir, 0o711);
  const piece = (name: string) => manifest.pieces.find((p) => p.name === name);
  const base = piece('base.tar.gz');
  const label = piece('backup_label');
  if (!base || !label) throw new FatalError(`backup ${manifest.id}: the manifest lists no base.tar.gz or backup_label`);
  const bar = progress.start('restoring base', base.size, 'bytes');
  await unpackPiece(target, manifest.id, base, pgDir, problems, (n) => bar.tick(n));
  bar.done();
  check();
  await fsp.writeFile(path.join(pgDir, 'backup_label'), await readPiece(target, manifest.id, label, problems), {
    mode: 0o600,
  });
  const map = piece('tablespace_map');
  if (map)
    await fsp.writeFile(path.join(pgDir, 'tablespace_map'), await readPiece(target, manifest.id, map, problems), {
      mode: 0o600,
    });
  const project = piece('project.tar.gz');
  if (project) await unpackPiece(target, manifest.id, project, dir, problems, () => undefined);
  check();
  await fsp.mkdir(path.join(pgDir, 'pg_wal', 'archive_status'), { recursive: true, mode: 0o700 });
  await chownTree(pgDir);
  await fsp.chmod(pgDir, 0o700);
  return problems;
}

async function chownTree(root: string): Promise<void> {
  const owner = await embeddedOwner();
  if (!owner) return;
  const walk = async (p: string) => {
    await fsp.chown(p, owner.uid, owner.gid);
    const st = await fsp.lstat(p);
    if (st.isDirectory()) for (const name of await fsp.readdir(p)) await walk(path.join(p, name));
  };
  await walk(root);
}

/** Fetches every shipped WAL file from the backup's start segment on (and the timeline history files). */
export async function fetchWal(
  target: BackupTarget,
  manifest: EmbeddedManifest,
  walDir: string,
  progress: BackupProgress,
): Promise<{ count: number; newest: Date | undefined }> {
  await fsp.mkdir(walDir, { recursive: true, mode: 0o700 });
  const floor = segmentPosition(manifest.startWal);
  const wanted = (await shippedWal(target, manifest.systemId)).filter((w) => {
    const pos = segmentPosition(w.name);
    return pos === '' || pos >= floor;
  });
  const bar = progress.start('fetching WAL', wanted.length, 'files');
  let newest: Date | undefined;
  for (const w of wanted) {
    const chunks: Buffer[] = [];
    for await (const c of await target.get(w.key)) chunks.push(c as Buffer);
    const bytes = await walBytes(w, Buffer.concat(chunks));
    if (!bytes)
      throw new FatalError(`WAL file ${w.name} in ${target.where} does not match its checksum: the archive is damaged`);
    await fsp.writeFile(path.join(walDir, w.name), bytes, { mode: 0o600 });
    if (segmentPosition(w.name) !== '' && (!newest || w.modified > newest)) newest = w.modified;
    bar.tick(1);
  }
  bar.done();
  const owner = await embeddedOwner();
  if (owner) await chownTree(walDir);
  return { count: wanted.length, newest };
}

const confString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

/** Replays the WAL into the unpacked cluster in `dir` up to `to`, then stops it, promoted. */
export async function replay(
  config: Config,
  dir: string,
  password: string,
  to: RecoveryTarget,
  progress: BackupProgress,
): Promise<{ reachedTarget: boolean }> {
  const dataDir = path.join(dir, '.trellis');
  const pgDir = path.join(dataDir, 'pg');
  const walDir = path.join(dataDir, 'wal-restore');
  const autoConf = path.join(pgDir, 'postgresql.auto.conf');
  const original = await fsp.readFile(autoConf, 'utf8').catch(() => '');
  // cp, not a shell pipeline of ours: the folder is quoted for the shell restore_command runs in.
  const restoreCommand = `cp '${walDir.replace(/'/g, `'\\''`)}'/%f %p`;
  const settings = (t: RecoveryTarget) => [
    `restore_command = ${confString(restoreCommand)}`,
    // The backup's own timeline, not the newest in the target: a restored copy shipping into the same
    // target starts a timeline of its own, and following it would trade production's writes for the copy's.
    `recovery_target_timeline = 'current'`,
    `recovery_target_action = 'promote'`,
    ...(t.kind === 'time' ? [`recovery_target_time = ${confString(t.time)}`, `recovery_target_inclusive = on`] : []),
    // Off: stop just before the record at the snapshot's LSN, so exactly what the snapshot saw is replayed.
    ...(t.kind === 'lsn' ? [`recovery_target_lsn = ${confString(t.lsn)}`, `recovery_target_inclusive = off`] : []),
  ];
  const attempt = async (t: RecoveryTarget): Promise<'done' | 'target not reached'> => {
    await fsp.writeFile(
      autoConf,
      `${original}\n# trellis restore (removed when recovery ends)\n${settings(t).join('\n')}\n`,
    );
    await fsp.writeFile(path.join(pgDir, 'recovery.signal'), '');
    const owner = await embeddedOwner();
    if (owner) {
      await fsp.chown(autoConf, owner.uid, owner.gid);
      await fsp.chown(path.join(pgDir, 'recovery.signal'), owner.uid, owner.gid);
    }
    const logFile = path.join(pgDir, 'postgres.log');
    const offset = (await fsp.stat(logFile).catch(() => undefined))?.size ?? 0;
    let embedded;
    try {
      embedded = await startEmbedded({
        dataDir,
        password,
        onProgress: (m) => progress.note(m),
        archive: { dir: path.join(dataDir, 'wal-archive'), timeoutS: config.backup.archiveTimeoutS },
        // Connections open once replay reaches consistency (the end of the base backup's WAL).
        startTimeoutS: 3600,
      });
    } catch (err) {
      const log = (await fsp.readFile(logFile).catch(() => Buffer.alloc(0))).subarray(offset).toString();
      if (/recovery ended before configured recovery target was reached/.test(log)) return 'target not reached';
      throw err;
    }
    try {
      const deadline = Date.now() + 30 * 60_000;
      for (;;) {
        const ended = await probeRecoveryEnded(embedded.url);
        if (ended === true) break;
        const log = (await fsp.readFile(logFile).catch(() => Buffer.alloc(0))).subarray(offset).toString();
        if (/recovery ended before configured recovery target was reached/.test(log)) return 'target not reached';
        const fatal = /(FATAL|PANIC):\s*(.*)/.exec(log);
        if (ended === undefined && fatal) throw new FatalError(`recovery failed: ${fatal[2]} (log: ${logFile})`);
        if (Date.now() > deadline) throw new FatalError(`recovery did not end within 30 minutes (log: ${logFile})`);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await embedded.stop();
    }
    return 'done';
  };
  try {
    let result = await attempt(to);
    let reachedTarget = true;
    if (result === 'target not reached') {
      // No commit after the time in the archive: everything archived is before it. Go on to the end.
      reachedTarget = false;
      result = await attempt({ kind: 'latest' });
      if (result !== 'done') throw new FatalError('recovery ended before the end of the archived WAL');
    }
    return { reachedTarget };
  } finally {
    await fsp.writeFile(autoConf, original);
    await fsp.rm(path.join(pgDir, 'recovery.signal'), { force: true });
  }
}

/** true: promoted; false: still replaying; undefined: not answering. */
async function probeRecoveryEnded(url: string): Promise<boolean | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return !(await inRecovery(client));
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function readBody(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
