/**
 * Realtime (issue 5), on loopback, all in one run:
 * - Fan-out: CLIENTS sockets in ROOMS rooms, each sending RATE broadcasts/s, RATE raised step by
 *   step until p99 delivery latency passes 100 ms or fewer than 90% of the deliveries the offered
 *   load implies arrive (the clients share the machine: when they fall behind, the step fails). The figure is delivered messages/s at the last step within bounds, for Trellis, for the
 *   floor (bench/floors/realtime-floor.mjs: raw `ws`, same Phoenix frames) and for Socket.IO (same
 *   rooms). Clients are bare sockets in this process (realtime-js's own cost is not the server's).
 *   Beside the ramp, each server's CPU per delivered message at every rate all of them held, read
 *   from /proc, with the clients' own CPU: a ratio that does not depend on whether the clients or
 *   the shared cores ran out first (the ramp's figure does).
 * - Idle connections: heap per open socket with one channel joined, after GC, in a child process
 *   (10,000 sockets by default, so code compiled once weighs little per socket).
 * - Cluster: 1, 2 and 3 Trellis instances on one database and one Redis (REDIS_URL), clients spread
 *   round-robin, the same ramp.
 *
 *   npx tsx bench/realtime.ts [--clients 1000] [--rooms 100] [--seconds 3] [--rounds 1] [--from-rate 1] [--idle 10000] [--no-cluster] [--write]
 *
 * With several rounds, the three servers take turns and each keeps its best round: a shared
 * machine's hiccups only ever lower a ramp, so the best is the least disturbed measurement.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { io as ioClient, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { freePort } from '../src/platform/net.js';
import { report } from './report.js';
import { ROOT, withBenchServer } from './server.js';
import { percentile } from '../src/capacity/index.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    rooms: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '1' },
    'from-rate': { type: 'string', default: '1' },
    idle: { type: 'string', default: '10000' },
    'no-cluster': { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
  },
});
const CLIENTS = Number(values.clients);
const ROOMS = Number(values.rooms);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const IDLE = Number(values.idle);
// The ramp: messages per second per client; --from-rate skips the low steps for a quick run.
const RATES = [1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 32, 40].filter((r) => r >= Number(values['from-rate']));
const P99_BOUND_MS = 100;

const TRELLIS_ENV = {
  LOG_LEVEL: 'warn',
  REDIS_URL: '',
  REALTIME_MAX_EVENTS_PER_SECOND: '100000',
  REALTIME_MAX_TENANT_EVENTS_PER_SECOND: '100000000',
  REALTIME_MAX_CONNECTIONS: '100000',
};

interface Client {
  send(sentAt: number): void;
  close(): void;
}
type Connect = (index: number, room: string, onDelivery: (sentAt: number) => void) => Promise<Client>;

/** The payload carries the send time; receivers read it without parsing the whole frame. */
const timeOf = (text: string) => Number.parseFloat(text.slice(text.indexOf('"t":') + 4));

/** A bare Phoenix 2.0.0 socket (Trellis and the floor speak the same frames). */
function phoenix(urls: readonly string[], apikey: string): Connect {
  return (index, room, onDelivery) =>
    new Promise((resolve, reject) => {
      const url = `${urls[index % urls.length]!.replace(/^http/, 'ws')}/realtime/v1/websocket?apikey=${apikey}&vsn=2.0.0`;
      const ws = new WebSocket(url, { perMessageDeflate: false });
      const topic = `realtime:${room}`;
      let joined = false;
      let heartbeat: NodeJS.Timeout | undefined;
      ws.on('error', reject);
      ws.on('open', () =>
        ws.send(JSON.stringify(['1', '1', topic, 'phx_join', { config: { broadcast: { self: false } } }])),
      );
      ws.on('message', (data: Buffer) => {
        const text = data.toString();
        if (joined) {
          if (text.includes('"broadcast"')) onDelivery(timeOf(text));
          return;
        }
        joined = true;
        heartbeat = setInterval(() => ws.send(JSON.stringify([null, 'hb', 'phoenix', 'heartbeat', {}])), 20_000);
        resolve({
          send: (sentAt) =>
            ws.send(`["1",null,"${topic}","broadcast",{"type":"broadcast","event":"m","payload":{"t":${sentAt}}}]`),
          close: () => {
            clearInterval(heartbeat);
            ws.terminate();
          },
        });
      });
    });
}

function socketIo(url: string): Connect {
  return (_index, room, onDelivery) =>
    new Promise((resolve, reject) => {
      const socket: Socket = ioClient(url, { transports: ['websocket'], reconnection: false, forceNew: true });
      socket.on('connect_error', reject);
      socket.on('broadcast', (payload: { t: number }) => onDelivery(payload.t));
      socket.on('connect', () =>
        socket.emit('join', room, () =>
          resolve({
            send: (sentAt) => socket.emit('broadcast', room, { t: sentAt }),
            close: () => socket.disconnect(),
          }),
        ),
      );
    });
}

interface Step {
  readonly rate: number;
  readonly delivered: number;
  readonly p99: number;
  readonly complete: number;
  /** The server process's CPU per delivered message over the measured seconds, µs. */
  readonly serverUs: number;
  /** This process's (the clients') CPU over the measured seconds, in cores. */
  readonly generatorCores: number;
}

/** A process's CPU seconds so far (Linux /proc; utime + stime). */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
const ownCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** The ramp; returns the last step within bounds (and all steps, for the record). */
async function fanOut(
  name: string,
  connect: Connect,
  serverPids: readonly number[],
): Promise<{ best: Step | undefined; steps: Step[] }> {
  const serverCpu = () => serverPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  let measuring = false;
  const latencies: number[] = [];
  const clients: Client[] = [];
  for (let i = 0; i < CLIENTS; i += 50) {
    const batch = Array.from({ length: Math.min(50, CLIENTS - i) }, (_, j) =>
      connect(i + j, `room-${(i + j) % ROOMS}`, (sentAt) => {
        if (measuring) latencies.push(performance.now() - sentAt);
      }),
    );
    clients.push(...(await Promise.all(batch)));
  }
  const perRoom = CLIENTS / ROOMS;
  const steps: Step[] = [];
  let best: Step | undefined;
  for (const rate of RATES) {
    latencies.length = 0;
    const total = CLIENTS * rate;
    const tickMs = 10;
    const perTick = total / (1000 / tickMs);
    let carry = 0;
    let next = 0;
    const started = performance.now();
    const warmupEnd = started + 1000;
    const end = warmupEnd + SECONDS * 1000;
    let sentMeasured = 0;
    let cpuAtStart: { server: number; own: number; at: number } | undefined;
    let cpuAtEnd: { server: number; own: number; at: number } | undefined;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const now = performance.now();
        if (now >= end) {
          clearInterval(timer);
          cpuAtEnd = { server: serverCpu(), own: ownCpuSeconds(), at: now };
          resolve();
          return;
        }
        measuring = now >= warmupEnd;
        if (measuring && !cpuAtStart) cpuAtStart = { server: serverCpu(), own: ownCpuSeconds(), at: now };
        carry += perTick;
        while (carry >= 1) {
          clients[next]!.send(performance.now());
          next = (next + 1) % clients.length;
          carry -= 1;
          if (measuring) sentMeasured++;
        }
      }, tickMs);
    });
    await new Promise((r) => setTimeout(r, 300));
    measuring = false;
    const sorted = [...latencies].sort((a, b) => a - b);
    const [from, to] = [cpuAtStart ?? cpuAtEnd!, cpuAtEnd!];
    const step: Step = {
      serverUs: ((to.server - from.server) * 1e6) / Math.max(1, latencies.length),
      generatorCores: (to.own - from.own) / Math.max(0.001, (to.at - from.at) / 1000),
      rate,
      delivered: Math.round(latencies.length / SECONDS),
      p99: percentile(sorted, 99),
      // Against the offered load, not what was sent: a client process that falls behind (sending
      // less) must fail the step, or a slower server would be measured at a lighter load.
      complete: Math.min(
        latencies.length / (total * SECONDS * (perRoom - 1)),
        latencies.length / Math.max(1, sentMeasured * (perRoom - 1)),
      ),
    };
    steps.push(step);
    console.error(
      `${name}: ${rate} msg/s per client -> ${step.delivered} delivered/s, p99 ${step.p99.toFixed(1)} ms, ${(step.complete * 100).toFixed(0)}% delivered, server ${step.serverUs.toFixed(1)} µs/message, clients ${step.generatorCores.toFixed(2)} cores`,
    );
    if (!(step.p99 <= P99_BOUND_MS) || step.complete < 0.9) break;
    best = step;
    await new Promise((r) => setTimeout(r, 500));
  }
  for (const c of clients) c.close();
  await new Promise((r) => setTimeout(r, 500));
  return { best, steps };
}

async function startChild(file: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = fork(path.join(ROOT, 'bench', 'floors', file), [String(port)], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  await new Promise((resolve) => child.once('message', resolve));
  return { url: `http://127.0.0.1:${port}`, child };
}

async function stopChild(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

/** Heap per socket with one channel joined, after GC, in a child: Trellis's realtime server or the floor. */
async function idleMemory(mode: 'trellis' | 'floor'): Promise<number> {
  const child = fork(path.join(ROOT, 'bench', 'realtime-idle-server.ts'), [mode], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  try {
    const { port, apikey } = await new Promise<{ port: number; apikey: string }>((resolve) =>
      child.once('message', (m) => resolve(m as { port: number; apikey: string })),
    );
    const heap = () =>
      new Promise<number>((resolve) => {
        child.once('message', (m) => resolve((m as { heap: number }).heap));
        child.send('gc');
      });
    const before = await heap();
    const connect = phoenix([`http://127.0.0.1:${port}`], apikey);
    const clients: Client[] = [];
    for (let i = 0; i < IDLE; i += 100) {
      clients.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(100, IDLE - i) }, (_, j) =>
            connect(i + j, `idle-${(i + j) % ROOMS}`, () => undefined),
          ),
        )),
      );
    }
    const after = await heap();
    for (const c of clients) c.close();
    return (after - before) / IDLE;
  } finally {
    child.kill('SIGTERM');
  }
}

/**
 * The servers' CPU per delivered message at each rate all of them held (the clients' own CPU
 * beside it, in cores: near 1 the clients, not the server, set the pace), and Trellis's
 * efficiency against the floor at the highest such rate: the floor's CPU per message over Trellis's.
 */
function cpuTable(servers: readonly (readonly [string, { steps: Step[] }])[]): string[] {
  const held = (steps: Step[], rate: number) => steps.find((s) => s.rate === rate && s.complete >= 0.9);
  const rates = RATES.filter((rate) => servers.every(([, r]) => held(r.steps, rate)));
  if (rates.length === 0) return ['No rate was held by every server: no CPU comparison.'];
  const top = rates.at(-1)!;
  const floorUs = held(servers[0]![1].steps, top)!.serverUs;
  return [
    "Server CPU per delivered message (µs) at the rates every server held, and the clients' CPU in cores:",
    '',
    `| Server | ${rates.map((r) => `${r} msg/s per client`).join(' | ')} | Floor's CPU ÷ this server's at ${top} |`,
    `| --- | ${rates.map(() => '---').join(' | ')} | --- |`,
    ...servers.map(([name, r]) => {
      const cells = rates.map((rate) => {
        const s = held(r.steps, rate)!;
        return `${s.serverUs.toFixed(1)} (clients ${s.generatorCores.toFixed(2)})`;
      });
      return `| ${name} | ${cells.join(' | ')} | ${(floorUs / held(r.steps, top)!.serverUs).toFixed(2)} |`;
    }),
  ];
}

const fmt = (n: number | undefined) =>
  n === undefined || Number.isNaN(n) ? '—' : Math.round(n).toLocaleString('en-US');
const describe = (r: { best: Step | undefined; steps: Step[] }) =>
  r.best
    ? `${fmt(r.best.delivered)} (at ${r.best.rate} msg/s per client, p99 ${r.best.p99.toFixed(1)} ms)`
    : `— (first step over bounds: p99 ${r.steps[0]?.p99.toFixed(1)} ms)`;

async function main() {
  type Ramp = Awaited<ReturnType<typeof fanOut>>;
  const better = (a: Ramp | undefined, b: Ramp) => (a && (a.best?.delivered ?? 0) >= (b.best?.delivered ?? 0) ? a : b);
  let floor: Ramp | undefined;
  let sio: Ramp | undefined;
  let trellis: Ramp | undefined;
  for (let round = 1; round <= ROUNDS; round++) {
    const floorChild = await startChild('realtime-floor.mjs');
    floor = better(
      floor,
      await fanOut(`floor (raw ws), round ${round}`, phoenix([floorChild.url], 'none'), [floorChild.child.pid!]),
    );
    await stopChild(floorChild.child);
    trellis = better(
      trellis,
      await withBenchServer({ env: TRELLIS_ENV }, (server) =>
        fanOut(`Trellis, round ${round}`, phoenix([server.url], server.anonKey), [server.pid]),
      ),
    );
    const sioChild = await startChild('realtime-socketio.mjs');
    sio = better(sio, await fanOut(`Socket.IO, round ${round}`, socketIo(sioChild.url), [sioChild.child.pid!]));
    await stopChild(sioChild.child);
  }
  if (!floor || !sio || !trellis) throw new Error('--rounds must be at least 1');
  const perSocket = await idleMemory('trellis');
  const perSocketFloor = await idleMemory('floor');

  const cluster: { instances: number; result: Awaited<ReturnType<typeof fanOut>> }[] = [];
  const redisUrl = process.env.REDIS_URL;
  if (!values['no-cluster'] && redisUrl) {
    await withBenchServer({ env: { ...TRELLIS_ENV, REDIS_URL: redisUrl } }, async (first) => {
      const env = { ...TRELLIS_ENV, REDIS_URL: redisUrl, DATABASE_URL: first.dbUrl, JWT_SECRET: first.jwtSecret };
      cluster.push({
        instances: 1,
        result: await fanOut('cluster of 1', phoenix([first.url], first.anonKey), [first.pid]),
      });
      await withBenchServer({ env }, async (second) => {
        cluster.push({
          instances: 2,
          result: await fanOut('cluster of 2', phoenix([first.url, second.url], first.anonKey), [
            first.pid,
            second.pid,
          ]),
        });
        await withBenchServer({ env }, async (third) => {
          cluster.push({
            instances: 3,
            result: await fanOut('cluster of 3', phoenix([first.url, second.url, third.url], first.anonKey), [
              first.pid,
              second.pid,
              third.pid,
            ]),
          });
        });
      });
    });
  }

  const ratio = (a: Step | undefined, b: Step | undefined) => (a && b ? (a.delivered / b.delivered).toFixed(2) : '—');
  const rows = [
    `Fan-out: ${CLIENTS} clients in ${ROOMS} rooms (${CLIENTS / ROOMS} per room, each message to the ${CLIENTS / ROOMS - 1} others), rate raised until p99 > ${P99_BOUND_MS} ms; delivered messages/s at the last step within bounds:`,
    '',
    '| Server | Delivered/s | Ratio to floor | Steps (rate per client: delivered/s, p99 ms) |',
    '| --- | --- | --- | --- |',
    ...[
      ['Floor: raw `ws`', floor],
      ['Trellis', trellis],
      ['Socket.IO 4', sio],
    ].map(([name, r]) => {
      const res = r as Ramp;
      return `| ${name as string} | ${describe(res)} | ${ratio(res.best, floor.best)} | ${res.steps.map((s) => `${s.rate}: ${fmt(s.delivered)}, ${s.p99.toFixed(0)}`).join('; ')} |`;
    }),
    '',
    `Trellis ÷ Socket.IO: ${ratio(trellis.best, sio.best)}.`,
    '',
    ...cpuTable([
      ['Floor: raw `ws`', floor],
      ['Trellis', trellis],
      ['Socket.IO 4', sio],
    ]),
    '',
    `Idle connections (${IDLE} sockets, heap after GC): ${fmt(perSocket)} bytes per open socket with one channel joined; the raw \`ws\` floor holds ${fmt(perSocketFloor)} (issue 21: ≤ 5 KB).`,
  ];
  report(
    'realtime',
    `\`npx tsx bench/realtime.ts --clients ${CLIENTS} --rooms ${ROOMS} --seconds ${SECONDS} --rounds ${ROUNDS}\` (best of ${ROUNDS} alternating round${ROUNDS > 1 ? 's' : ''} per server; clients, servers, PostgreSQL and Redis share the machine's cores)`,
    rows.join('\n'),
    values.write,
  );
  // Its own section: a quick run (--no-cluster, as npm run bench does) leaves the last cluster figures in place.
  if (cluster.length > 0) {
    const table = [
      `Cluster (one PostgreSQL, one Redis, all on this machine; clients round-robin over the instances):`,
      '',
      '| Instances | Delivered/s | Ratio to 1 instance |',
      '| --- | --- | --- |',
      ...cluster.map(
        (c) => `| ${c.instances} | ${describe(c.result)} | ${ratio(c.result.best, cluster[0]?.result.best)} |`,
      ),
    ];
    report(
      'realtime-cluster',
      `\`npx tsx bench/realtime.ts --clients ${CLIENTS} --rooms ${ROOMS} --seconds ${SECONDS}\` with REDIS_URL set`,
      table.join('\n'),
      values.write,
    );
  }
}

await main();
process.exit(0);
