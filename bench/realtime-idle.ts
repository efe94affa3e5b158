/**
 * Idle realtime sockets (issue 21 item 5): how many one `trellis start --workers N` holds on this
 * machine, and what each costs in memory. Clients run in processes of their own (a process holds at
 * most its file limit of sockets; here the hard limit is 20,000 and raising it is not permitted, so
 * one server process cannot hold 100,000: the instance's workers share them), each from its own
 * loopback address. Every socket joins one channel and sends heartbeats; after all are open the
 * benchmark holds them past a heartbeat cycle, counts them again on both sides, and checks the data
 * API still answers. The heap per socket after GC, beside raw `ws`, is bench/realtime.ts's figure.
 *
 *   npx tsx bench/realtime-idle.ts [--sockets 100000] [--workers 6] [--hold 35] [--write]
 */
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { nodeTree, rssBytes } from './cpu.js';
import { report } from './report.js';
import { ROOT, withBenchServer } from './server.js';

const { values } = parseArgs({
  options: {
    sockets: { type: 'string', default: '100000' },
    workers: { type: 'string', default: '6' },
    hold: { type: 'string', default: '35' },
    write: { type: 'boolean', default: false },
  },
});
const SOCKETS = Number(values.sockets);
const WORKERS = Number(values.workers);
const HOLD_S = Number(values.hold);
// Sockets per client process: under the file limit, and under one address's ephemeral port range.
const PER_CLIENT = 16_000;
const ROOMS = 1000;

const metric = (text: string, name: string): number =>
  [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);

/** Each /metrics answer is one worker's (labelled with its pid): ask on fresh connections until every worker answered. */
async function everyWorker(url: string, workers: number): Promise<{ connections: number; heap: number }> {
  const seen = new Map<string, { connections: number; heap: number }>();
  for (let i = 0; i < 200 && seen.size < workers; i++) {
    const text = await (await fetch(`${url}/metrics`, { headers: { connection: 'close' } })).text();
    const worker = /worker="(\d+)"/.exec(text)?.[1] ?? 'one';
    seen.set(worker, {
      connections: metric(text, 'trellis_realtime_connections'),
      heap: metric(text, 'nodejs_heap_size_used_bytes'),
    });
  }
  if (seen.size < workers) throw new Error(`only ${seen.size} of ${workers} workers answered /metrics`);
  const all = [...seen.values()];
  return { connections: all.reduce((a, w) => a + w.connections, 0), heap: all.reduce((a, w) => a + w.heap, 0) };
}

function ask<T>(child: ChildProcess, message?: string): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as T));
    child.once('exit', (code) => reject(new Error(`client process exited ${code}`)));
    if (message) child.send(message);
  });
}

await withBenchServer(
  {
    env: {
      TRELLIS_WORKERS: String(WORKERS),
      REALTIME_MAX_CONNECTIONS: '1000000',
      METRICS_PUBLIC: 'true',
      REDIS_URL: '',
    },
  },
  async (server) => {
    const metrics = () => everyWorker(server.url, WORKERS);
    const treeRss = () => nodeTree(server.pid).reduce((sum, pid) => sum + rssBytes(pid), 0);
    const processes = nodeTree(server.pid).length;
    const before = { rss: treeRss(), heap: (await metrics()).heap };
    const clientCount = Math.ceil(SOCKETS / PER_CLIENT);
    const started = performance.now();
    const clients = Array.from({ length: clientCount }, (_, i) =>
      fork(
        path.join(ROOT, 'bench', 'floors', 'idle-clients.mjs'),
        [
          server.url.replace(/^http/, 'ws'),
          server.anonKey,
          String(Math.min(PER_CLIENT, SOCKETS - i * PER_CLIENT)),
          `127.0.0.${10 + i}`,
          String(ROOMS),
        ],
        { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
      ),
    );
    const opened = await Promise.all(
      clients.map((c) => ask<{ opened: number; failed: number; firstError?: string }>(c)),
    );
    const openS = (performance.now() - started) / 1000;
    const failed = opened.reduce((a, o) => a + o.failed, 0);
    const firstError = opened.find((o) => o.firstError)?.firstError;
    process.stderr.write(
      `opened ${opened.reduce((a, o) => a + o.opened, 0)} in ${openS.toFixed(1)} s, ${failed} failed${firstError ? ` (${firstError})` : ''}\n`,
    );
    const serverOpen = (await metrics()).connections;
    process.stderr.write(`holding ${HOLD_S} s (the server counts ${serverOpen})\n`);
    await new Promise((resolve) => setTimeout(resolve, HOLD_S * 1000));
    const stillOpen = (await Promise.all(clients.map((c) => ask<{ open: number }>(c, 'count')))).reduce(
      (a, o) => a + o.open,
      0,
    );
    const t0 = performance.now();
    const rest = await fetch(`${server.url}/rest/v1/`, { headers: { apikey: server.anonKey } });
    const restMs = performance.now() - t0;
    const { connections: held, heap } = await metrics();
    const rss = treeRss();
    for (const c of clients) c.send('close');
    const perSocket = (a: number, b: number) => `${Math.round((b - a) / held).toLocaleString('en-US')} bytes`;
    const table = [
      '| Measure | Value |',
      '| --- | --- |',
      `| sockets asked for | ${SOCKETS.toLocaleString('en-US')} (${clientCount} client processes, one loopback address each) |`,
      `| opened, each joined to a channel | ${(SOCKETS - failed).toLocaleString('en-US')} in ${openS.toFixed(1)} s (${failed} failed${firstError ? `: ${firstError}` : ''}) |`,
      `| open after ${HOLD_S} s (past a heartbeat cycle): server / clients | ${held.toLocaleString('en-US')} / ${stillOpen.toLocaleString('en-US')} |`,
      `| server processes (primary + workers) | ${processes} |`,
      `| resident memory of the server's processes, idle → holding | ${(before.rss / 2 ** 20).toFixed(0)} MiB → ${(rss / 2 ** 20).toFixed(0)} MiB (${perSocket(before.rss, rss)} a socket) |`,
      `| JavaScript heap in use (all workers, not collected first) | ${(before.heap / 2 ** 20).toFixed(0)} MiB → ${(heap / 2 ** 20).toFixed(0)} MiB (${perSocket(before.heap, heap)} a socket) |`,
      `| \`GET /rest/v1/\` while holding | HTTP ${rest.status} in ${restMs.toFixed(0)} ms |`,
    ].join('\n');
    report(
      'realtime-idle',
      `\`npx tsx bench/realtime-idle.ts --sockets ${SOCKETS} --workers ${WORKERS}\` (${os.cpus().length} cores; file limit ${PER_CLIENT < 20_000 ? '20,000 per process' : ''}; clients and server on the same machine)`,
      table,
      values.write === true,
    );
  },
);
