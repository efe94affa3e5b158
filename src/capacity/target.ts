/**
 * What a scenario runs against: a Trellis the harness starts on a temporary project (embedded
 * PostgreSQL, the scenario's schema as its migration), or one the user names with --target.
 */
import { spawn } from 'node:child_process';
import pg from 'pg';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { benchServerEnv } from '../config.js';
import { FatalError } from '../errors.js';
import { freePort } from '../platform/net.js';
import { signApiKeys } from '../project/secrets.js';
import { readRuntimeState } from '../project/state.js';

export interface Target {
  /** The base URL of the first instance (or the load balancer): what the scenario seeds through. */
  readonly url: string;
  /** Every URL given; virtual users are spread over them in turn (client-side balancing). */
  readonly urls: readonly string[];
  /** How many Trellis instances serve the load (behind `url` or one per URL). */
  readonly instances: number;
  /** The capacity statement's subject: "this machine", "3 instances behind http://lb:8080". */
  readonly subject: string;
  readonly anonKey: string;
  readonly serviceRoleKey: string;
  /** Signs the synthetic users' tokens; unknown for a target given only its keys. */
  readonly jwtSecret: string | undefined;
  /** The database, when known: the floor runs the same SQL on it. */
  readonly dbUrl: string | undefined;
  /** The server's CPU time and memory so far, when they can be read (summed over the instances). */
  sample(): Promise<ProcessSample | undefined>;
  close(): Promise<void>;
}

/** The URL virtual user `index` talks to: the target's URLs in turn. */
export function urlFor(target: Pick<Target, 'urls'>, index: number): string {
  return target.urls[index % target.urls.length] ?? target.urls[0] ?? '';
}

const BIN = path.resolve(import.meta.dirname, '..', '..', 'bin', 'trellis.js');

/** Starts `trellis start` on a fresh temporary project whose only migration is `schema`. */
export async function startLocalTarget(options: {
  schema: string | undefined;
  env: Record<string, string>;
  log: (line: string) => void;
}): Promise<Target> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-bench-'));
  await fs.chmod(dir, 0o755);
  const migrations = path.join(dir, 'supabase', 'migrations');
  await fs.mkdir(migrations, { recursive: true });
  if (options.schema) await fs.writeFile(path.join(migrations, '20240101000000_bench.sql'), options.schema);
  const port = await freePort();
  options.log(`starting Trellis on ${dir} (embedded PostgreSQL, port ${port})`);
  const child = spawn(process.execPath, [BIN, 'start', '--dir', dir, '--port', String(port)], {
    env: benchServerEnv({ LOG_LEVEL: 'warn', DATABASE_URL: '', REDIS_URL: '', ...options.env }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // exitCode stays null for a child killed by a signal: wait on the event, check both codes.
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (running()) child.kill('SIGTERM');
    await exited;
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 60_000;
    while (
      !(await fetch(`${url}/ready`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (!running())
        throw new FatalError(
          `the benchmark's Trellis did not start: ${stderr.trim() || `exit ${child.exitCode ?? child.signalCode}`}`,
        );
      if (Date.now() > deadline) throw new FatalError("the benchmark's Trellis was not ready within 60 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    const state = await readRuntimeState(path.join(dir, '.trellis'));
    if (!state) throw new FatalError("the benchmark's Trellis wrote no runtime state");
    const keys = await signApiKeys(state.jwtSecret);
    const pid = child.pid;
    const postmaster = await postmasterPid(state.dbUrl);
    return {
      url,
      urls: [url],
      instances: 1,
      subject: 'this machine',
      anonKey: keys.anonKey,
      serviceRoleKey: keys.serviceRoleKey,
      jwtSecret: state.jwtSecret,
      dbUrl: state.dbUrl,
      sample: async () => {
        const node = pid === undefined ? undefined : await sampleProcess(pid);
        const database = postmaster === undefined ? undefined : await postgresCpuSeconds(postmaster);
        return node && { ...node, ...(database === undefined ? {} : { databaseCpuSeconds: database }) };
      },
      close: stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface ProcessSample {
  /** CPU seconds (user + system) used so far. */
  readonly cpuSeconds: number;
  readonly rssBytes: number;
  /** PostgreSQL's CPU seconds so far (the postmaster and every backend, ended ones too), when known. */
  readonly databaseCpuSeconds?: number;
}

/** CPU time and resident memory of a process, from /proc (Linux); undefined elsewhere. */
export async function sampleProcess(pid: number): Promise<ProcessSample | undefined> {
  try {
    const [stat, status] = await Promise.all([
      fs.readFile(`/proc/${pid}/stat`, 'utf8'),
      fs.readFile(`/proc/${pid}/status`, 'utf8'),
    ]);
    return parseProcStat(stat, status);
  } catch {
    return undefined;
  }
}

/** Pure part of sampleProcess: fields 14 and 15 of /proc/PID/stat are utime and stime, in clock ticks. */
export function parseProcStat(stat: string, status: string, ticksPerSecond = 100): ProcessSample | undefined {
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!Number.isFinite(utime) || !Number.isFinite(stime) || !rss) return undefined;
  return { cpuSeconds: (utime + stime) / ticksPerSecond, rssBytes: Number(rss[1]) * 1024 };
}

/**
 * The CPU seconds in a /proc/PID/stat line: utime + stime (fields 14 and 15), plus, with
 * `reaped`, cutime + cstime (16 and 17: children that ended and were waited for). Pure.
 */
export function procCpuSeconds(stat: string, reaped: boolean, ticksPerSecond = 100): number | undefined {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = (reaped ? [11, 12, 13, 14] : [11, 12]).map((i) => Number(fields[i]));
  return ticks.every((t) => Number.isInteger(t) && t >= 0)
    ? ticks.reduce((a, b) => a + b, 0) / ticksPerSecond
    : undefined;
}

/** The parent pid in a /proc/PID/stat line (field 4). Pure. */
export function procParent(stat: string): number | undefined {
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  return Number.isInteger(ppid) && ppid > 0 ? ppid : undefined;
}

/**
 * The postmaster of a database on this machine (the parent of a backend of ours), or undefined
 * when it is not a local PostgreSQL whose /proc we can read.
 */
export async function postmasterPid(dbUrl: string): Promise<number | undefined> {
  const client = new pg.Client({ connectionString: dbUrl });
  try {
    await client.connect();
    const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
    const backend = rows[0]?.pid;
    if (backend === undefined) return undefined;
    const parent = procParent(await fs.readFile(`/proc/${backend}/stat`, 'utf8'));
    if (parent === undefined) return undefined;
    const cmdline = await fs.readFile(`/proc/${parent}/cmdline`, 'utf8');
    return /postgres/.test(cmdline) ? parent : undefined;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** PostgreSQL's CPU so far: the postmaster, its ended backends (reaped) and its live ones. */
export async function postgresCpuSeconds(postmaster: number): Promise<number | undefined> {
  try {
    const own = procCpuSeconds(await fs.readFile(`/proc/${postmaster}/stat`, 'utf8'), true);
    const children = (await fs.readFile(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8'))
      .split(' ')
      .filter(Boolean);
    const live = await Promise.all(
      children.map((pid) =>
        fs.readFile(`/proc/${pid}/stat`, 'utf8').then(
          (stat) => procCpuSeconds(stat, false) ?? 0,
          // A backend that ended between the listing and the read: its time is in the reaped sum.
          () => 0,
        ),
      ),
    );
    return own === undefined ? undefined : own + live.reduce((a, b) => a + b, 0);
  } catch {
    return undefined;
  }
}
