/** Starts the built Trellis CLI on a temporary project for a benchmark, and cleans up after it. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { signApiKeys } from '../src/project/secrets.js';
import { freePort } from '../src/platform/net.js';

export const ROOT = path.resolve(import.meta.dirname, '..');

export interface BenchServer {
  readonly url: string;
  readonly dbUrl: string;
  readonly anonKey: string;
  /** The Trellis process (for resident-memory readings). */
  readonly pid: number;
  /** The project folder (data in `dir/.trellis`). */
  readonly dir: string;
  readonly jwtSecret: string;
}

/** Runs `work` against a Trellis started with `env` and the given migration files (name → path). */
export async function withBenchServer<T>(
  options: {
    env: Record<string, string>;
    migrations?: Record<string, string>;
    /** More project files by path relative to the project folder, with their text (`supabase/functions/x/index.ts`). */
    files?: Record<string, string>;
  },
  work: (server: BenchServer) => Promise<T>,
): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-'));
  fs.chmodSync(dir, 0o755);
  fs.mkdirSync(path.join(dir, 'supabase', 'migrations'), { recursive: true });
  for (const [name, file] of Object.entries(options.migrations ?? {}))
    fs.copyFileSync(file, path.join(dir, 'supabase', 'migrations', name));
  for (const [name, text] of Object.entries(options.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  const port = await freePort();
  // BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server under load.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const server = spawn(
    process.execPath,
    [...nodeArgs, path.join(ROOT, 'bin', 'trellis.js'), 'start', '--dir', dir, '--port', String(port)],
    {
      env: { ...process.env, LOG_LEVEL: 'warn', ...options.env },
      stdio: 'ignore',
    },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    while (
      !(await fetch(`${url}/ready`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (server.exitCode !== null) throw new Error(`trellis start exited ${server.exitCode}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // /ready answers as soon as the app is in place, a moment before the runtime state is written.
    const readState = () => {
      try {
        return JSON.parse(fs.readFileSync(path.join(dir, '.trellis', 'trellis.pid'), 'utf8')) as {
          dbUrl?: string;
          jwtSecret?: string;
        };
      } catch {
        return {};
      }
    };
    let state = readState();
    while (!state.jwtSecret || !state.dbUrl) {
      await new Promise((r) => setTimeout(r, 50));
      state = readState();
    }
    const { anonKey } = await signApiKeys(state.jwtSecret);
    return await work({ url, dbUrl: state.dbUrl, anonKey, jwtSecret: state.jwtSecret, pid: server.pid ?? 0, dir });
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.on('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
