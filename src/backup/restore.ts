/**
 * `trellis restore`: a backup (the newest that ends before the requested time) into a new project
 * folder, replayed to that time or to the end of the archived WAL, with its secrets and storage.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { FatalError } from '../errors.js';
import { listBackups } from './catalog.js';
import type { BackupProgress } from './create.js';
import type { EmbeddedManifest } from './manifest.js';
import { chooseBackup, storageFileParts, type Candidate, type RestoreTime } from './plan.js';
import { fetchWal, replay, unpackBackup, type RecoveryTarget } from './recover.js';
import type { BackupTarget } from './target.js';
import { readSecretsOf } from './secrets.js';

export interface RestoreOptions {
  readonly config: Config;
  readonly target: BackupTarget;
  readonly id: string | undefined;
  readonly time: RestoreTime | undefined;
  /** New or empty project folder. */
  readonly dir: string;
  readonly progress: BackupProgress;
}

export interface RestoreReport {
  readonly backup: string;
  /** 'time' when recovery stopped at the time asked for; 'latest' when it replayed everything archived. */
  readonly reached: 'time' | 'latest';
  readonly walFiles: number;
  readonly storageFiles: number;
}

/** Refuses a folder with anything in it: a restore never mixes with existing data. */
export async function prepareEmptyDir(dir: string): Promise<void> {
  const st = await fsp.stat(dir).catch(() => undefined);
  if (st && !st.isDirectory()) throw new FatalError(`${dir} is not a folder`, '--dir');
  if (st && (await fsp.readdir(dir)).length > 0)
    throw new FatalError(`${dir} is not empty; restore into a new or empty folder`, '--dir');
  await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
  // The database's user must walk down to .trellis/pg.
  await fsp.chmod(dir, 0o755);
}

export async function pickBackup(
  target: BackupTarget,
  id: string | undefined,
  time: Date | undefined,
): Promise<Candidate> {
  const all = await listBackups(target);
  if (id !== undefined) {
    const found = all.find((b) => b.id === id);
    if (!found) throw new FatalError(`no backup ${id} in ${target.where}`, '--backup');
    if (!found.complete || !found.manifest)
      throw new FatalError(
        `backup ${id} is incomplete (${found.problem ?? 'interrupted before its manifest was written'}); it cannot be restored`,
        '--backup',
      );
    if (time && new Date(found.manifest.stopTime).getTime() > time.getTime())
      throw new FatalError(
        `backup ${id} ended at ${found.manifest.stopTime}, after ${time.toISOString()}: pick an older backup`,
        '--to-time',
      );
    return { id, manifest: found.manifest };
  }
  const chosen = chooseBackup(
    all.filter((b) => b.complete && b.manifest).map((b) => ({ id: b.id, manifest: b.manifest! })),
    time,
  );
  if (typeof chosen === 'string') throw new FatalError(`${chosen} (in ${target.where})`, time ? '--to-time' : '--from');
  return chosen;
}

export async function restoreBackup(options: RestoreOptions): Promise<RestoreReport> {
  const { config, target, dir, progress } = options;
  const chosen = await pickBackup(target, options.id, options.time?.time);
  if (chosen.manifest.kind !== 'embedded')
    throw new FatalError(`backup ${chosen.id} is a pg_dump of a PostgreSQL server: restore it with --db-url`, '--from');
  const manifest: EmbeddedManifest = chosen.manifest;
  progress.note(`restoring backup ${manifest.id} (ended ${manifest.stopTime}) into ${dir}`);
  await unpackBackup({ target, manifest, dir, progress, stopOnMismatch: true });
  const walDir = path.join(dir, '.trellis', 'wal-restore');
  const wal = await fetchWal(target, manifest, walDir, progress);
  let to: RecoveryTarget = { kind: 'latest' };
  if (options.time) {
    if (wal.newest && options.time.time.getTime() >= wal.newest.getTime())
      progress.note(
        `${options.time.input} is after the newest archived WAL (shipped ${wal.newest.toISOString()}): restoring to the latest point archived`,
      );
    else to = { kind: 'time', time: options.time.text };
  }
  const secrets = await readSecretsOf(path.join(dir, '.trellis'));
  const { reachedTarget } = await replay(config, dir, secrets.dbPassword, to, progress);
  if (to.kind === 'time' && !reachedTarget)
    progress.note(`no commit after ${options.time!.input} is archived: restored to the latest point archived`);
  await fsp.rm(walDir, { recursive: true, force: true });
  const storageFiles = await restoreStorage(target, path.join(dir, '.trellis', 'storage'), progress);
  return {
    backup: manifest.id,
    reached: to.kind === 'time' && reachedTarget ? 'time' : 'latest',
    walFiles: wal.count,
    storageFiles,
  };
}

/** Every storage file the target holds: rows of any restore point find theirs among them. */
async function restoreStorage(target: BackupTarget, storageDir: string, progress: BackupProgress): Promise<number> {
  const listed = await target.list('storage/');
  // Refused before any file is written: a name that could reach outside the restored folder.
  const unsafe = listed.find((f) => storageFileParts(f.key) === undefined);
  if (unsafe)
    throw new FatalError(`${target.where} holds a storage file with an unsafe name (${unsafe.key}): not restored`);
  const files = listed.map((f) => ({ key: f.key, parts: storageFileParts(f.key) ?? [] }));
  const bar = progress.start('restoring storage files', files.length, 'files');
  for (const f of files) {
    const file = path.join(storageDir, ...f.parts);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await pipeline(await target.get(f.key), fs.createWriteStream(file, { flags: 'wx' }));
    bar.tick(1);
  }
  bar.done();
  return files.length;
}
