/**
 * A primary and a streaming standby of the test's own (PostgreSQL from PG_BIN_DIR or the newest
 * /usr/lib/postgresql/<major>/bin): the primary is a crashable cluster; the standby is `pg_basebackup -R` of it,
 * started on a free port, which the test may stop and start again (a dead replica that comes back).
 */
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/platform/net.js';
import { crashablePostgres, postgresUser, run, systemBinaries, type CrashablePostgres } from './crashable-postgres.js';

export interface StreamingStandby {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP (`thaw`: SIGCONT) of the postmaster and every backend: a host that answers nothing. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
}

export interface ReplicatedPostgres {
  readonly primary: CrashablePostgres;
  readonly standby: StreamingStandby;
  destroy(): Promise<void>;
}

/** PG_BIN_DIR, else the newest Debian PostgreSQL with pg_basebackup (CI's server is one of those). */
export const PG15_BIN =
  process.env.PG_BIN_DIR ??
  (fsSync.existsSync('/usr/lib/postgresql')
    ? fsSync
        .readdirSync('/usr/lib/postgresql')
        .filter((v) => /^\d+$/.test(v) && fsSync.existsSync(`/usr/lib/postgresql/${v}/bin/pg_basebackup`))
        .sort((a, b) => Number(b) - Number(a))
        .map((v) => `/usr/lib/postgresql/${v}/bin`)[0]
    : undefined) ??
  '/usr/lib/postgresql/15/bin';

/** Undefined when this machine has no PostgreSQL 15 binaries (then the test says why it skips). */
export async function replicatedPostgres(): Promise<ReplicatedPostgres | undefined> {
  const bin = await systemBinaries(PG15_BIN);
  if (!bin) return undefined;
  const primary = await crashablePostgres(bin, ['hot_standby=on', 'wal_keep_size=256MB']);
  const runAs = await postgresUser();
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-standby-'));
  await fs.chmod(root, 0o755);
  const dataDir = path.join(root, 'pg');
  const logFile = path.join(root, 'postgres.log');
  await fs.writeFile(logFile, '');
  if (runAs) {
    await fs.chown(root, runAs.uid, runAs.gid);
    await fs.chown(logFile, runAs.uid, runAs.gid);
  }
  const backup = await run(
    path.join(PG15_BIN, 'pg_basebackup'),
    ['-D', dataDir, '-R', '-X', 'stream', '-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres'],
    runAs,
  );
  if (backup.code !== 0) {
    await primary.destroy();
    throw new Error(`pg_basebackup failed: ${backup.output}`);
  }
  const port = await freePort();
  const options = [
    '-c listen_addresses=127.0.0.1',
    `-c port=${port}`,
    "-c unix_socket_directories=''",
    '-c hot_standby=on',
    // Replies often, so that the primary and the probes see its position without delay.
    '-c wal_receiver_status_interval=1s',
    '-c hot_standby_feedback=on',
  ].join(' ');
  const standby: StreamingStandby = {
    freeze: () => Promise.resolve(),
    thaw: () => Promise.resolve(),
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      const started = await run(
        bin.pg_ctl,
        ['start', '-D', dataDir, '-w', '-t', '60', '-s', '-l', logFile, '-o', options],
        runAs,
      );
      if (started.code !== 0)
        throw new Error(`standby did not start: ${started.output}${await fs.readFile(logFile, 'utf8')}`);
    },
    async stop() {
      await run(bin.pg_ctl, ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '30', '-s'], runAs);
    },
  };
  const signalAll = async (signal: NodeJS.Signals) => {
    const pid = Number((await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    const children = (await run('ps', ['-o', 'pid=', '--ppid', String(pid)], undefined)).output
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => Number.isInteger(n) && n > 0);
    for (const p of [pid, ...children]) process.kill(p, signal);
  };
  standby.freeze = () => signalAll('SIGSTOP');
  standby.thaw = () => signalAll('SIGCONT');
  await standby.start();
  return {
    primary,
    standby,
    async destroy() {
      await run(bin.pg_ctl, ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '10', '-s'], runAs);
      await fs.rm(root, { recursive: true, force: true });
      await primary.destroy();
    },
  };
}
