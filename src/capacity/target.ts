/**
 * What a scenario runs against: a Trellis the harness starts on a temporary project (embedded
 * PostgreSQL, the scenario's schema as its migration), or one the user names with --target.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { benchServerEnv } from '../config.js';
import { FatalError } from '../errors.js';
import { freePort } from '../platform/net.js';
import { signApiKeys } from '../project/secrets.js';
import { readRuntimeState } from '../project/state.js';

export interface Target {
  readonly url: string;
  readonly anonKey: string;
  readonly serviceRoleKey: string;
  readonly jwtSecret: string;
  /** The database, when known: the floor runs the same SQL on it. */
  readonly dbUrl: string | undefined;
  /** The server process, when the harness started it: its CPU and memory are reported. */
  readonly pid: number | undefined;
  close(): Promise<void>;
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
    return {
      url,
      anonKey: keys.anonKey,
      serviceRoleKey: keys.serviceRoleKey,
      jwtSecret: state.jwtSecret,
      dbUrl: state.dbUrl,
      pid: child.pid,
      close: stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A Trellis the user runs: its URL and JWT secret (`trellis status` prints both). */
export async function remoteTarget(url: string, jwtSecret: string, dbUrl: string | undefined): Promise<Target> {
  const base = url.replace(/\/+$/, '');
  const health = await fetch(`${base}/health`).then(
    (r) => r.status,
    () => 0,
  );
  if (health !== 200)
    throw new FatalError(`no Trellis answers at ${base} (GET /health gave ${health || 'no answer'})`, '--target');
  const keys = await signApiKeys(jwtSecret);
  return {
    url: base,
    anonKey: keys.anonKey,
    serviceRoleKey: keys.serviceRoleKey,
    jwtSecret,
    dbUrl,
    pid: undefined,
    close: async () => undefined,
  };
}

export interface ProcessSample {
  /** CPU seconds (user + system) used so far. */
  readonly cpuSeconds: number;
  readonly rssBytes: number;
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
