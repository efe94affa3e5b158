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
    return {
      url,
      urls: [url],
      instances: 1,
      subject: 'this machine',
      anonKey: keys.anonKey,
      serviceRoleKey: keys.serviceRoleKey,
      jwtSecret: state.jwtSecret,
      dbUrl: state.dbUrl,
      sample: async () => (pid === undefined ? undefined : sampleProcess(pid)),
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
