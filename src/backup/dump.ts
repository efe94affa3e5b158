/**
 * The PostgreSQL-server path (DATABASE_URL): `pg_dump -Fc` streamed into the target with a manifest,
 * and `pg_restore` of such a backup into an empty database. A server's continuous archiving and
 * point-in-time restore belong to its own engine (pgBackRest, WAL-G, the provider's): see
 * docs/backups.md. pg_dump must be at least the server's major version, or it refuses the server.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import pg from 'pg';
import { redactUrl, releaseBackupLock, tryBackupLock } from '../db/index.js';
import { FatalError } from '../errors.js';
import { cleanIncomplete } from './catalog.js';
import type { BackupProgress } from './create.js';
import type { Manifest } from './manifest.js';
import { newBackupId, type BackupTarget } from './target.js';
import { trellisVersion } from './version.js';

type DumpManifest = Extract<Manifest, { kind: 'pg_dump' }>;

/** A libpq URL without its password, and the password for PGPASSWORD (kept off the command line, which `ps` shows). */
function splitPassword(url: string): { url: string; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' };
  if (password) env.PGPASSWORD = password;
  return { url: u.toString(), env };
}

/** The major version of a PostgreSQL client tool on PATH, or a message saying why there is none. */
export async function toolMajor(tool: 'pg_dump' | 'pg_restore'): Promise<{ major: number; version: string }> {
  const { code, output } = await run(tool, ['--version'], {}, undefined);
  if (code === -1)
    throw new FatalError(
      `${tool} is not on PATH: install the PostgreSQL client tools (a major version at least the server's), or back the server up with its own engine (pgBackRest, WAL-G, the provider's; docs/backups.md)`,
    );
  const m = /(\d+)(?:\.(\d+))?/.exec(output);
  if (code !== 0 || !m) throw new FatalError(`cannot tell ${tool}'s version from "${output.trim()}"`);
  return { major: Number(m[1]), version: output.trim() };
}

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  stdout: ((s: Readable) => Promise<unknown>) | undefined,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let consumed: Promise<unknown> = Promise.resolve();
    if (stdout) consumed = stdout(child.stdout).catch((err: unknown) => (output += String(err)));
    else child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', () => resolve({ code: -1, output }));
    child.on('close', (code) => void consumed.then(() => resolve({ code: code ?? -1, output })));
  });
}

async function serverMajor(client: pg.ClientBase): Promise<{ major: number; version: string }> {
  const { rows } = await client.query<{ num: string; v: string }>(
    "select current_setting('server_version_num') as num, current_setting('server_version') as v",
  );
  return { major: Math.floor(Number(rows[0]!.num) / 10000), version: rows[0]!.v };
}

export async function dumpServer(
  url: string,
  target: BackupTarget,
  progress: BackupProgress,
  label?: string,
): Promise<DumpManifest> {
  const tool = await toolMajor('pg_dump');
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const server = await serverMajor(client);
    if (tool.major < server.major)
      throw new FatalError(
        `pg_dump on PATH is version ${tool.major} but the server (${redactUrl(url)}) runs PostgreSQL ${server.major}: install pg_dump ${server.major} or newer`,
      );
    if (!(await tryBackupLock(client)))
      throw new FatalError('another backup of this database is running; try again when it ends');
    await cleanIncomplete(target);
    const id = newBackupId();
    const startTime = new Date();
    const { url: bare, env } = splitPassword(url);
    const bar = progress.start('pg_dump', 0, 'bytes');
    let piece: { size: number; sha256: string } | undefined;
    const result = await run('pg_dump', ['-Fc', '--no-password', `--dbname=${bare}`], env, async (out) => {
      out.on('data', (c: Buffer) => bar.tick(c.length));
      piece = await target.put(target.stagingKey(id, 'dump.pgdump'), out);
    });
    if (result.code !== 0 || !piece)
      throw new FatalError(`pg_dump failed: ${result.output.trim().split('\n').at(-1) ?? `exit code ${result.code}`}`);
    bar.done();
    const manifest: DumpManifest = {
      format: 'trellis-backup/1',
      kind: 'pg_dump',
      id,
      label: label ?? `trellis ${id}`,
      startTime: startTime.toISOString(),
      stopTime: new Date().toISOString(),
      postgresVersion: server.version,
      pgDumpVersion: tool.version,
      trellisVersion: trellisVersion(),
      pieces: [{ name: 'dump.pgdump', ...piece }],
    };
    await target.complete(id, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
    await releaseBackupLock(client);
    return manifest;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** pg_restore of a pg_dump backup into `url`, which must hold no table, view or function of its own. */
export async function restoreDump(
  manifest: DumpManifest,
  target: BackupTarget,
  url: string,
  progress: BackupProgress,
): Promise<void> {
  const tool = await toolMajor('pg_restore');
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      `select count(*) as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') and n.nspname not like 'pg_temp%'
          and n.nspname not like 'pg_toast_temp%'`,
    );
    if (Number(rows[0]!.n) > 0)
      throw new FatalError(
        `${redactUrl(url)} is not empty (it has ${rows[0]!.n} relations); restore into an empty database`,
        '--db-url',
      );
    const server = await serverMajor(client);
    if (tool.major < server.major)
      throw new FatalError(
        `pg_restore on PATH is version ${tool.major} but the server runs PostgreSQL ${server.major}`,
      );
  } finally {
    await client.end().catch(() => undefined);
  }
  const piece = manifest.pieces[0]!;
  // Downloaded and checked before pg_restore reads a byte: a damaged dump is never half-applied.
  const scratch = await fsp.mkdtemp(path.join(os.tmpdir(), 'trellis-dump-'));
  try {
    const file = path.join(scratch, 'dump.pgdump');
    const hash = crypto.createHash('sha256');
    const bar = progress.start('downloading dump', piece.size, 'bytes');
    const source = await target.get(`${manifest.id}/${piece.name}`);
    source.on('data', (c: Buffer) => {
      hash.update(c);
      bar.tick(c.length);
    });
    await pipeline(source, fs.createWriteStream(file, { mode: 0o600 }));
    bar.done();
    if (hash.digest('hex') !== piece.sha256)
      throw new FatalError(
        `backup ${manifest.id}: piece ${piece.name} does not match its checksum; restore another backup`,
      );
    const { url: bare, env } = splitPassword(url);
    const result = await run(
      'pg_restore',
      ['--no-password', '--exit-on-error', '--single-transaction', `--dbname=${bare}`, file],
      env,
      undefined,
    );
    if (result.code !== 0)
      throw new FatalError(`pg_restore failed: ${result.output.trim().split('\n').slice(-2).join(' ')}`);
  } finally {
    await fsp.rm(scratch, { recursive: true, force: true });
  }
}
