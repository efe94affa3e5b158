/**
 * Helpers of the deploy tests: Trellis instances started by the real CLI on one database and one
 * Redis, the real HAProxy and nginx with the configurations of docs/deploy/ (their example
 * addresses replaced by loopback ports), a bounded supabase-js load and realtime listeners.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type RealtimeChannel, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { freePort, startCli, tempProject, type RunningCli } from '../../helpers/cli.js';
import { sleep } from '../../helpers/realtime.js';

const DEPLOY = fileURLToPath(new URL('../../../docs/deploy/', import.meta.url));

/** The path of a program, or undefined when it is not installed. */
export function installed(program: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

export const MIGRATION = {
  '20240101000000_notes.sql': `create table notes (id serial primary key, body text not null unique);
create function slow(ms int) returns int language sql as $$ select pg_sleep(ms / 1000.0); select ms $$;
`,
};

export async function startInstances(count: number, env: Record<string, string>): Promise<RunningCli[]> {
  const dirs = await Promise.all(Array.from({ length: count }, () => tempProject(MIGRATION)));
  // The first one applies the migrations; the others start together and find them applied.
  const first = await startCli(dirs[0]!, env);
  return [first, ...(await Promise.all(dirs.slice(1).map((dir) => startCli(dir, env))))];
}

/** A child process whose output is kept, stopped by its pid. */
export class Daemon {
  output = '';
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (c: Buffer) => (this.output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (this.output += c.toString()));
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

/** Replaces each match of `pattern` (groups: the part kept, a number) and insists on `expected` matches. */
function substitute(text: string, pattern: RegExp, expected: number, by: (kept: string, n: string) => string): string {
  let count = 0;
  const out = text.replace(pattern, (_match, kept: string, n: string) => {
    count++;
    return by(kept, n);
  });
  if (count !== expected) throw new Error(`${pattern} matched ${count} times in docs/deploy, not ${expected}`);
  return out;
}

/** docs/deploy/haproxy.cfg listening on `port`, in front of `backends`. */
export async function haproxyConfig(port: number, backends: readonly number[]): Promise<string> {
  let text = await fs.readFile(path.join(DEPLOY, 'haproxy.cfg'), 'utf8');
  text = substitute(text, /^( {4})bind :80()$/gm, 1, (head) => `${head}bind 127.0.0.1:${port}`);
  // Each server appears once per backend (requests, realtime), named trellisN.
  return substitute(text, /^( {4}server trellis(\d) )10\.0\.0\.\d+:54321/gm, 2 * backends.length, (head, n) => {
    return `${head}127.0.0.1:${backends[Number(n) - 1]}`;
  });
}

/** docs/deploy/nginx.conf listening on `port`, in front of `backends`, inside a minimal main file. */
export async function nginxConfig(port: number, backends: readonly number[], dir: string): Promise<string> {
  let text = await fs.readFile(path.join(DEPLOY, 'nginx.conf'), 'utf8');
  text = substitute(text, /^( {4})listen 80;()$/gm, 1, (head) => `${head}listen 127.0.0.1:${port};`);
  text = substitute(text, /^( {4}server )10\.0\.0\.1(\d):54321/gm, backends.length, (head, n) => {
    return `${head}127.0.0.1:${backends[Number(n) - 1]}`;
  });
  await fs.writeFile(path.join(dir, 'trellis.conf'), text);
  const main = `pid ${dir}/nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n  access_log off;\n  include ${dir}/trellis.conf;\n}\n`;
  await fs.writeFile(path.join(dir, 'nginx.conf'), main);
  return path.join(dir, 'nginx.conf');
}

export async function startHaproxy(bin: string, port: number, backends: readonly number[]): Promise<Daemon> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-haproxy-'));
  const file = path.join(dir, 'haproxy.cfg');
  await fs.writeFile(file, await haproxyConfig(port, backends));
  // -db: in the foreground, so that the test owns the process.
  const daemon = new Daemon(spawn(bin, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] }));
  await untilAnswers(`http://127.0.0.1:${port}/ready`, daemon);
  return daemon;
}

export async function untilAnswers(url: string, daemon: Daemon): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (
    (await fetch(url).then(
      (r) => r.status,
      () => 0,
    )) !== 200
  ) {
    if (daemon.child.exitCode !== null) throw new Error(`exited ${daemon.child.exitCode}:\n${daemon.output}`);
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within 10 s:\n${daemon.output}`);
    await sleep(50);
  }
}

export const client = (url: string, key: string): SupabaseClient =>
  createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket as unknown as never },
  });

export interface Outcome {
  readonly what: string;
  readonly start: number;
  readonly end: number;
  readonly error?: string;
}

/** `workers` supabase-js loops of a read, an insert and a 100 ms RPC, until `stop()`. */
export function load(url: string, key: string, workers: number, tag: string) {
  const outcomes: Outcome[] = [];
  let running = true;
  const loops = Array.from({ length: workers }, async (_, worker) => {
    const supabase = client(url, key);
    for (let n = 0; running; n++) {
      const start = Date.now();
      const [what, request] =
        n % 3 === 0
          ? ['select', supabase.from('notes').select('id').limit(5)]
          : n % 3 === 1
            ? ['insert', supabase.from('notes').insert({ body: `${tag}-${worker}-${n}` })]
            : ['rpc', supabase.rpc('slow', { ms: 100 })];
      const { error } = await request;
      outcomes.push({ what, start, end: Date.now(), ...(error && { error: error.message || String(error.code) }) });
    }
  });
  return {
    outcomes,
    async stop(): Promise<Outcome[]> {
      running = false;
      await Promise.all(loops);
      return outcomes;
    },
  };
}

/** A realtime client on channel `lobby`, recording its subscription states and the pings it gets. */
export class Listener {
  readonly states: { status: string; at: number }[] = [];
  readonly pings: number[] = [];
  readonly supabase: SupabaseClient;
  readonly channel: RealtimeChannel;
  constructor(url: string, key: string) {
    this.supabase = client(url, key);
    this.channel = this.supabase
      .channel('lobby')
      .on('broadcast', { event: 'ping' }, (m) => this.pings.push((m.payload as { n: number }).n));
    this.channel.subscribe((status) => this.states.push({ status, at: Date.now() }));
  }
  get subscribed(): boolean {
    return this.states.at(-1)?.status === 'SUBSCRIBED';
  }
  /** When its channel was lost after `since`, and when it was subscribed again (undefined: not yet). */
  lostSince(since: number): { lost: number; back?: number } | undefined {
    const lost = this.states.find((s) => s.at >= since && s.status !== 'SUBSCRIBED');
    if (!lost) return undefined;
    const back = this.states.find((s) => s.at >= lost.at && s.status === 'SUBSCRIBED');
    return { lost: lost.at, ...(back && { back: back.at }) };
  }
  async close(): Promise<void> {
    await this.supabase.removeAllChannels().catch(() => undefined);
    void this.supabase.realtime.disconnect();
  }
}

/** The REST requests an instance counted on /metrics (service_role key). */
export async function restRequestsServed(instance: RunningCli): Promise<number> {
  const key = /service_role key: (\S+)/.exec(instance.output())?.[1] ?? '';
  const text = await (await fetch(`${instance.url}/metrics`, { headers: { authorization: `Bearer ${key}` } })).text();
  let total = 0;
  for (const m of text.matchAll(/^trellis_http_requests_total\{[^}]*route="\/rest\/v1[^"]*"[^}]*\} (\d+)/gm))
    total += Number(m[1]);
  return total;
}

export { freePort };
