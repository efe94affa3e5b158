/**
 * Database webhooks (issue 17 item 3): rows inserted into a table with a
 * supabase_functions.http_request trigger, timed from the insert's commit until every webhook has
 * reached a receiver on loopback and its outcome is in net._http_response. The floor does the
 * same work with the thinnest code: the same rows read back and POSTed with fetch at the same
 * concurrency (NET_CONCURRENCY, 16), one insert of the outcome each. Single inserts give the
 * latency from commit to delivery, beside a single fetch plus insert.
 *
 *   npx tsx bench/webhooks.ts [--rows 2000] [--rounds 3] [--write]
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { report } from './report.js';
import { withBenchServer } from './server.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    write: { type: 'boolean', default: false },
  },
});
const ROWS = Number(values.rows);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = 16;
const SINGLES = 50;

let received = 0;
const receiver = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    received++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const target = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * p)] ?? 0;
const until = async (done: () => Promise<boolean>) => {
  while (!(await done())) await new Promise((r) => setImmediate(r));
};

const result = await withBenchServer({ env: {} }, async (server) => {
  const pool = new pg.Pool({ connectionString: server.dbUrl, max: 4 });
  await pool.query(`
    create table public.bench_events (id int primary key, body text);
    create table public.bench_outcomes (id int, status int, content text);
    create trigger bench_hook after insert on public.bench_events for each row
      execute function supabase_functions.http_request('${target}', 'POST', '{}', '{}', '5000');`);
  const responses = async () =>
    Number((await pool.query<{ n: string }>('select count(*) as n from net._http_response')).rows[0]?.n);
  let next = 0;
  const floorSend = async (id: number, body: unknown) => {
    const r = await fetch(target, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    await pool.query('insert into public.bench_outcomes values ($1, $2, $3)', [id, r.status, await r.text()]);
  };
  const rates: number[] = [];
  const floors: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await pool.query('truncate public.bench_events, public.bench_outcomes, net._http_response');
    const base = await responses();
    received = 0;
    let started = performance.now();
    await pool.query(`insert into public.bench_events select i, 'event ' || i from generate_series(1, $1) i`, [ROWS]);
    await until(async () => received >= ROWS && (await responses()) - base >= ROWS);
    rates.push(ROWS / ((performance.now() - started) / 1000));

    const rows = (await pool.query<{ id: number; body: string }>('select id, body from public.bench_events')).rows;
    next = 0;
    started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < rows.length) {
          const row = rows[next++]!;
          await floorSend(row.id, {
            type: 'INSERT',
            table: 'bench_events',
            schema: 'public',
            record: row,
            old_record: null,
          });
        }
      }),
    );
    floors.push(ROWS / ((performance.now() - started) / 1000));
  }
  const latency: number[] = [];
  const floorLatency: number[] = [];
  for (let i = 0; i < SINGLES; i++) {
    const before = received;
    const started = performance.now();
    await pool.query('insert into public.bench_events values ($1, $2)', [ROWS + 1 + i, 'single']);
    await until(async () => received > before);
    latency.push(performance.now() - started);
    const t = performance.now();
    await floorSend(-i, { type: 'INSERT' });
    floorLatency.push(performance.now() - t);
  }
  await pool.end();
  return { rate: median(rates), floor: median(floors), latency, floorLatency };
});
receiver.close();

const table = [
  '| webhooks | Trellis | floor (fetch + insert) | ratio |',
  '| --- | ---: | ---: | ---: |',
  `| ${ROWS} rows inserted at once, delivered and recorded (per second, median of ${ROUNDS}) | ${result.rate.toFixed(0)} | ${result.floor.toFixed(0)} | ${(result.rate / result.floor).toFixed(2)} |`,
  `| one row: commit to delivery, p50 (ms) | ${median(result.latency).toFixed(1)} | ${median(result.floorLatency).toFixed(1)} | ${(median(result.latency) / median(result.floorLatency)).toFixed(1)}× |`,
  `| one row: commit to delivery, p95 (ms) | ${pct(result.latency, 0.95).toFixed(1)} | ${pct(result.floorLatency, 0.95).toFixed(1)} | ${(pct(result.latency, 0.95) / pct(result.floorLatency, 0.95)).toFixed(1)}× |`,
].join('\n');
report('webhooks', `\`npx tsx bench/webhooks.ts --rows ${ROWS} --rounds ${ROUNDS}\``, table, values.write ?? false);
