/**
 * `trellis start --workers N` (issue 16): data API reads and inserts at --workers 1 and 2 on this
 * machine, driven by a load generator in a process of its own (bench/floors/http-load.mjs), with
 * the server CPU per request (its Node.js processes, and PostgreSQL); and the latency of a
 * broadcast from a client on one worker to clients on the other (over PostgreSQL LISTEN/NOTIFY)
 * beside one on the same worker, one process, and the floor: a bare NOTIFY → LISTEN through `pg`.
 *
 *   npx tsx bench/workers.ts [--seconds 4] [--rounds 2] [--concurrency 8] [--messages 300] [--write]
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import WebSocket from 'ws';
import { percentile } from '../src/capacity/index.js';
import { cpuNow, nodeTreeSeconds, postmasterPid } from './cpu.js';
import { report } from './report.js';
import { ROOT, withBenchServer, type BenchServer } from './server.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '8' },
    messages: { type: 'string', default: '300' },
    write: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);
const MESSAGES = Number(values.messages);
const MIGRATIONS = { '20240101000000_items.sql': path.join(ROOT, 'bench', 'fixtures', 'workers.sql') };

interface Load {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  /** Milliseconds per request: the server's Node.js processes, PostgreSQL, the generator. */
  readonly node: number;
  readonly postgres: number;
  readonly generator: number;
}

function generate(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string,
): Promise<Omit<Load, 'node' | 'postgres'> & { ops: number; cpuMs: number }> {
  const child = fork(
    path.join(ROOT, 'bench', 'floors', 'http-load.mjs'),
    [url, method, JSON.stringify(headers), body, String(CONCURRENCY), String(SECONDS)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as never));
    child.once('exit', (code) => code !== 0 && reject(new Error(`load generator exited ${code}`)));
  });
}

/** The statements as Trellis prepares them, for the floor: the JSON body built by PostgreSQL. */
const FLOOR_STATEMENTS = {
  read: `select coalesce(json_agg(t), '[]'::json)::text as body from (select id, name, created_at from public.items order by id desc limit 20) t`,
  insert: `insert into public.items (name) select name from json_populate_record(null::public.items, $1::json)`,
};
const ANON_CLAIMS = { role: 'anon' };

/**
 * One load run against `url`, with the CPU of the process tree under `serverPid` and of the
 * project's PostgreSQL read around it. The generator warms up for a second first; CPU is divided by
 * the measured ops plus the warm-up's share at the same rate (the same for every run).
 */
async function loadRun(
  server: BenchServer,
  serverPid: number,
  url: string,
  method: 'GET' | 'POST',
  headers: Record<string, string>,
  body: string,
): Promise<Load> {
  const postmaster = postmasterPid(server.dir);
  // The postmaster and every backend under it.
  const pgSeconds = () => (postmaster === undefined ? NaN : cpuNow(process.pid, postmaster).postgres);
  const [node0, pg0] = [nodeTreeSeconds(serverPid), pgSeconds()];
  const r = await generate(url, method, headers, body);
  const [node1, pg1] = [nodeTreeSeconds(serverPid), pgSeconds()];
  const total = r.ops + r.ops / SECONDS;
  return {
    perSecond: r.perSecond,
    p50: r.p50,
    p99: r.p99,
    errors: r.errors,
    node: ((node1 - node0) * 1000) / total,
    postgres: ((pg1 - pg0) * 1000) / total,
    generator: r.cpuMs / r.ops,
  };
}

function measure(server: BenchServer, method: 'GET' | 'POST'): Promise<Load> {
  const headers: Record<string, string> = { apikey: server.anonKey, authorization: `Bearer ${server.anonKey}` };
  if (method === 'GET')
    return loadRun(
      server,
      server.pid,
      `${server.url}/rest/v1/items?select=id,name,created_at&order=id.desc&limit=20`,
      method,
      headers,
      '',
    );
  Object.assign(headers, { 'content-type': 'application/json', prefer: 'return=minimal' });
  return loadRun(server, server.pid, `${server.url}/rest/v1/items`, method, headers, '{"name":"bench"}');
}

/**
 * The floor (src/capacity/floor-server.ts, as bench/rest.ts uses it): node:http and pg in one
 * process, the same statements under the same claims, pipelined as Trellis sends them; nothing
 * else. It shares the Trellis project's PostgreSQL, with Trellis idle beside it.
 */
async function measureFloor(server: BenchServer): Promise<{ read: Load; insert: Load }> {
  const floor = fork(
    path.join(ROOT, 'dist', 'capacity', 'floor-server.js'),
    [server.dbUrl, JSON.stringify(FLOOR_STATEMENTS), '10'],
    { stdio: 'ignore' },
  );
  try {
    const port = await new Promise<number>((resolve) =>
      floor.once('message', (m) => resolve((m as { port: number }).port)),
    );
    const at = (name: string) => `http://127.0.0.1:${port}/${name}`;
    const headers = { 'content-type': 'application/json' };
    const read = await loadRun(
      server,
      floor.pid!,
      at('read'),
      'POST',
      headers,
      JSON.stringify({ claims: ANON_CLAIMS, values: [] }),
    );
    const insert = await loadRun(
      server,
      floor.pid!,
      at('insert'),
      'POST',
      headers,
      JSON.stringify({ claims: ANON_CLAIMS, values: ['{"name":"bench"}'] }),
    );
    return { read, insert };
  } finally {
    floor.kill();
  }
}

/** A Phoenix client (serializer 1.0.0) joined to `topic`; `worker` is found by the caller. */
interface Client {
  readonly ws: WebSocket;
  send(t: number): void;
  onDelivery(fn: (sentAt: number) => void): void;
}

function connect(url: string, apikey: string, topic: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/realtime/v1/websocket?apikey=${apikey}&vsn=1.0.0`, {
      perMessageDeflate: false,
    });
    let listener: (t: number) => void = () => undefined;
    ws.on('error', reject);
    ws.on('open', () =>
      ws.send(
        JSON.stringify({
          topic: `realtime:${topic}`,
          event: 'phx_join',
          ref: '1',
          join_ref: '1',
          payload: { config: { broadcast: { self: false } } },
        }),
      ),
    );
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as { event: string; payload: { payload?: { t?: number } } };
      if (frame.event === 'phx_reply')
        resolve({
          ws,
          send: (t) =>
            ws.send(
              JSON.stringify({
                topic: `realtime:${topic}`,
                event: 'broadcast',
                ref: null,
                join_ref: '1',
                payload: { type: 'broadcast', event: 'm', payload: { t } },
              }),
            ),
          onDelivery: (fn) => (listener = fn),
        });
      else if (frame.event === 'broadcast' && typeof frame.payload.payload?.t === 'number')
        listener(frame.payload.payload.t);
    });
  });
}

/** Open realtime sockets per worker, read from /metrics on fresh connections until both answered. */
async function socketsByWorker(url: string, workers: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < 20 && seen.size < workers; i++) {
    const body = await fetch(`${url}/metrics`, { headers: { connection: 'close' } }).then((r) => r.text());
    for (const m of body.matchAll(/^trellis_realtime_connections(?:\{worker="(\d+)"\})? (\d+)$/gm))
      seen.set(m[1] ?? 'one', Number(m[2]));
  }
  return seen;
}

interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly n: number;
}
const latency = (xs: number[]): Latency => {
  xs.sort((a, b) => a - b);
  return { p50: percentile(xs, 50), p99: percentile(xs, 99), n: xs.length };
};

/** One sender, receivers tagged by worker; MESSAGES broadcasts at 100/s. */
async function broadcastLatency(server: BenchServer, workers: number): Promise<{ same: Latency; cross: Latency }> {
  const clients: { client: Client; worker: string }[] = [];
  for (let i = 0; i < 6; i++) {
    const before = await socketsByWorker(server.url, workers);
    const client = await connect(server.url, server.anonKey, 'bench');
    const after = await socketsByWorker(server.url, workers);
    const worker = [...after.entries()].find(([w, n]) => n > (before.get(w) ?? 0))?.[0] ?? '?';
    clients.push({ client, worker });
  }
  const [sender, ...receivers] = clients as [(typeof clients)[0], ...typeof clients];
  const same: number[] = [];
  const cross: number[] = [];
  for (const r of receivers)
    r.client.onDelivery((t) => (r.worker === sender.worker ? same : cross).push(performance.now() - t));
  await new Promise((r) => setTimeout(r, 500));
  for (let i = 0; i < MESSAGES; i++) {
    sender.client.send(performance.now());
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 1000));
  for (const { client } of clients) client.ws.terminate();
  return { same: latency(same), cross: latency(cross) };
}

/** The floor: NOTIFY on one `pg` connection, LISTEN on another, the same rate. */
async function notifyFloor(dbUrl: string): Promise<Latency> {
  const [a, b] = [new pg.Client({ connectionString: dbUrl }), new pg.Client({ connectionString: dbUrl })];
  await Promise.all([a.connect(), b.connect()]);
  await a.query('set synchronous_commit = off');
  await b.query('listen bench_floor');
  const got: number[] = [];
  b.on('notification', (n) => got.push(performance.now() - Number(n.payload)));
  for (let i = 0; i < MESSAGES; i++) {
    await a.query("select pg_notify('bench_floor', $1)", [String(performance.now())]);
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 500));
  await Promise.all([a.end(), b.end()]);
  return latency(got);
}

async function main() {
  const reads: Record<number, Load[]> = { 1: [], 2: [] };
  const inserts: Record<number, Load[]> = { 1: [], 2: [] };
  const floorReads: Load[] = [];
  const floorInserts: Load[] = [];
  let broadcast: { one?: Latency; same?: Latency; cross?: Latency; floor?: Latency } = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const workers of [1, 2]) {
      await withBenchServer(
        { env: { TRELLIS_WORKERS: String(workers), METRICS_PUBLIC: 'true', REDIS_URL: '' }, migrations: MIGRATIONS },
        async (server) => {
          reads[workers]!.push(await measure(server, 'GET'));
          inserts[workers]!.push(await measure(server, 'POST'));
          if (workers === 1) {
            const f = await measureFloor(server);
            floorReads.push(f.read);
            floorInserts.push(f.insert);
          }
          process.stderr.write(
            `round ${round + 1}/${ROUNDS} workers ${workers}: reads ${reads[workers]!.at(-1)!.perSecond.toFixed(0)}/s, inserts ${inserts[workers]!.at(-1)!.perSecond.toFixed(0)}/s\n`,
          );
          if (round !== ROUNDS - 1) return;
          const b = await broadcastLatency(server, workers);
          if (workers === 1) broadcast = { ...broadcast, one: b.same };
          else broadcast = { ...broadcast, same: b.same, cross: b.cross, floor: await notifyFloor(server.dbUrl) };
        },
      );
    }
  }
  const median = (runs: Load[], pick: (l: Load) => number) => {
    const xs = runs.map(pick).sort((a, b) => a - b);
    return xs.length % 2 ? xs[(xs.length - 1) / 2]! : (xs[xs.length / 2 - 1]! + xs[xs.length / 2]!) / 2;
  };
  const row = (what: string, runs: Record<number, Load[]>) => {
    const one = median(runs[1]!, (l) => l.perSecond);
    const two = median(runs[2]!, (l) => l.perSecond);
    const cpu = (w: number) =>
      `${median(runs[w]!, (l) => l.node).toFixed(2)} + ${median(runs[w]!, (l) => l.postgres).toFixed(2)}`;
    const p99 = (w: number) => median(runs[w]!, (l) => l.p99).toFixed(1);
    const errors = (w: number) => runs[w]!.reduce((a, l) => a + l.errors, 0);
    return `| ${what} | ${one.toFixed(0)}/s, p99 ${p99(1)} ms | ${two.toFixed(0)}/s, p99 ${p99(2)} ms | **${(two / one).toFixed(2)}** | ${cpu(1)} | ${cpu(2)} | ${errors(1) + errors(2)} |`;
  };
  const floorRow = (what: string, floor: Load[], runs: Record<number, Load[]>) => {
    const f = median(floor, (l) => l.perSecond);
    const cpu = (xs: Load[]) => {
      const [n, p] = [median(xs, (l) => l.node), median(xs, (l) => l.postgres)];
      return `${n.toFixed(2)} + ${p.toFixed(2)} = ${(n + p).toFixed(2)}`;
    };
    const ratio = (w: number) => (median(runs[w]!, (l) => l.perSecond) / f).toFixed(2);
    const errors = floor.reduce((a, l) => a + l.errors, 0);
    return `| ${what} | ${f.toFixed(0)}/s, p99 ${median(floor, (l) => l.p99).toFixed(1)} ms | ${cpu(floor)} | ${cpu(runs[1]!)} | ${cpu(runs[2]!)} | **${ratio(1)}** | ${ratio(2)} | ${errors} |`;
  };
  const fmt = (l: Latency | undefined) =>
    l ? `${l.p50.toFixed(2)} ms | ${l.p99.toFixed(2)} ms | ${l.n}` : '– | – | 0';
  const table = [
    '| Operation | --workers 1 | --workers 2 | Ratio | CPU ms/request, 1 worker (Node.js + PostgreSQL) | CPU ms/request, 2 workers | Errors |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    row('anonymous read, 20 rows (`GET /rest/v1/items?…&limit=20`)', reads),
    row('anonymous insert (`POST /rest/v1/items`, return=minimal)', inserts),
    '',
    'Beside the floor (node:http + pg in one process, the same statements and claims pipelined as Trellis sends them; `src/capacity/floor-server.ts`), CPU per request as Node.js + PostgreSQL = all, in milliseconds:',
    '',
    '| Operation | Floor | CPU, floor | CPU, Trellis --workers 1 | CPU, Trellis --workers 2 | --workers 1 ÷ floor | --workers 2 ÷ floor | Floor errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    floorRow('anonymous read, 20 rows', floorReads, reads),
    floorRow('anonymous insert', floorInserts, inserts),
    '',
    `Broadcast latency, one sender at 100 messages/s (${MESSAGES} messages), sent → received by another client:`,
    '',
    '| Path | p50 | p99 | Deliveries |',
    '| --- | --- | --- | --- |',
    `| one process (--workers 1, in-process bus) | ${fmt(broadcast.one)} |`,
    `| --workers 2, receiver on the sender's worker | ${fmt(broadcast.same)} |`,
    `| --workers 2, receiver on the other worker (PostgreSQL LISTEN/NOTIFY) | ${fmt(broadcast.cross)} |`,
    `| floor: bare NOTIFY → LISTEN through \`pg\` | ${fmt(broadcast.floor)} |`,
  ].join('\n');
  report(
    'workers',
    `\`npx tsx bench/workers.ts\` (${CONCURRENCY} kept-alive connections from a load generator in its own process; ${ROUNDS} rounds of ${SECONDS} s after 1 s warm-up, each round starting the server afresh at 1 then 2 workers, medians; embedded PostgreSQL; all on the same 2 cores)`,
    table,
    values.write === true,
  );
}

await main();
