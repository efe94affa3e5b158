/** Runs the built CLI (bin/trellis.js) as a user would, and waits for it. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/platform/net.js';

export const BIN = fileURLToPath(new URL('../../bin/trellis.js', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Environment for a child: this one minus anything that would point Trellis elsewhere. */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of ['DATABASE_URL', 'PORT', 'HOST', 'JWT_SECRET', 'API_EXTERNAL_URL', 'TRELLIS_DIR', 'LOG_LEVEL'])
    delete env[key];
  // Tests stop their servers at once: the drain's grace has its own tests (test/cli/drain.test.ts).
  return { ...env, DRAIN_GRACE_SECONDS: '0', ...extra };
}

export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

export interface RunningCli {
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
  output(): string;
  /** Resolves with the exit code and how long the exit took after the signal. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

export async function startCli(dir: string, env: Record<string, string> = {}): Promise<RunningCli> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'start', '--dir', dir, '--port', String(port)], {
    env: cliEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`trellis start exited ${child.exitCode}:\n${output}`);
    const ready = await fetch(`${url}/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    // The banner is printed once the start has returned, a moment after /ready first answers 200.
    if (ready && output.includes('anon key:')) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`trellis start was not ready within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    port,
    url,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      const started = Date.now();
      if (child.exitCode === null) child.kill(signal);
      const code = await exited;
      return { code, ms: Date.now() - started };
    },
  };
}

/** A loopback port nobody listens on right now (src/platform/net.ts: the one the server, the capacity harness and the benchmarks use). */
export { freePort };

/** A project folder the embedded database's user can enter when tests run as root. */
export async function tempProject(migrations: Record<string, string> = {}): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-project-'));
  await fs.chmod(dir, 0o755);
  await fs.mkdir(path.join(dir, 'supabase', 'migrations'), { recursive: true });
  for (const [name, sql] of Object.entries(migrations))
    await fs.writeFile(path.join(dir, 'supabase', 'migrations', name), sql);
  return dir;
}
