/**
 * Jobs per second through Trellis's job runner (src/jobs/queue: add → a worker's handler →
 * completed), beside its floor measured in the same run: pg-boss used directly with the same
 * queue settings, batch size and workers, on the same embedded PostgreSQL. A third row runs a
 * pgmq queue from SQL (pgmq.send, then pgmq.read and pgmq.archive of each batch) with the same
 * number of senders and readers, for scale. Each round sends JOBS jobs from SENDERS concurrent
 * senders while the workers run; a figure is jobs / (last job done − first send).
 *
 *   npx tsx bench/queues.ts [--jobs 2000] [--senders 8] [--rounds 5] [--write]
 */
import { parseArgs } from 'node:util';
import PgBoss from 'pg-boss';
import pg from 'pg';
import { createJobRunner } from '../src/jobs/index.js';
import { createLogger } from '../src/platform/logger.js';
import { report } from './report.js';
import { withBenchServer } from './server.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '2000' },
    senders: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '5' },
    write: { type: 'boolean', default: false },
  },
});
const JOBS = Number(values.jobs);
const SENDERS = Number(values.senders);
const ROUNDS = Number(values.rounds);
// The runner's defaults (src/jobs/queue/runner.ts), given to the floor too.
const BATCH = 10;
const WORKERS = 2;
const QUEUE = { retryLimit: 4, retryDelay: 2, retryBackoff: true, expireInSeconds: 300 };

const log = createLogger({ level: 'warn', pretty: false });

/** Sends `count` jobs from SENDERS loops and waits until `done()` reaches it; jobs per second. */
async function measure(send: (i: number) => Promise<unknown>, done: () => number, count = JOBS): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: SENDERS }, async () => {
      while (next < count) await send(next++);
    }),
  );
  const deadline = Date.now() + 120_000;
  while (done() < count) {
    if (Date.now() > deadline) throw new Error(`only ${done()} of ${count} jobs done in 120 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return count / ((performance.now() - started) / 1000);
}

async function trellisRunner(dbUrl: string, task: string): Promise<number> {
  const runner = await createJobRunner({ url: dbUrl, log });
  let done = 0;
  await runner.handle(task, async () => void done++, { batchSize: BATCH, workers: WORKERS });
  try {
    return await measure(
      (i) => runner.add(task, { i }),
      () => done,
    );
  } finally {
    await runner.close(5000);
  }
}

/**
 * pg-boss used directly, as thin as it gets for the same behaviour: `wake` makes each full batch
 * fetch the next at once and a send wake a worker (pg-boss's notifyWorker), as the runner does;
 * without it, pg-boss's loop waits its polling interval after every fetch.
 */
async function pgBossDirect(dbUrl: string, task: string, wake: boolean): Promise<number> {
  const boss = new PgBoss({ connectionString: dbUrl, max: 4, supervise: true, schedule: false });
  boss.on('error', (err: Error) => log.warn(err.message));
  await boss.start();
  await boss.createQueue(`${task}.dead`, { name: `${task}.dead`, retryLimit: 0 });
  await boss.createQueue(task, { name: task, ...QUEUE, deadLetter: `${task}.dead` });
  let done = 0;
  const ids: string[] = [];
  for (let w = 0; w < WORKERS; w++) {
    const id: string = await boss.work(task, { batchSize: BATCH, pollingIntervalSeconds: 0.5 }, async (jobs) => {
      done += jobs.length;
      if (wake && jobs.length === BATCH) boss.notifyWorker(id);
    });
    ids.push(id);
  }
  let next = 0;
  const send = async (i: number) => {
    await boss.send(task, { i });
    if (wake) boss.notifyWorker(ids[next++ % ids.length]!);
  };
  try {
    // Without wake-ups the loop is bound by its interval: a fifth of the jobs tells as much.
    return await measure(send, () => done, wake ? JOBS : Math.ceil(JOBS / 5));
  } finally {
    await boss.stop({ graceful: true, wait: true, timeout: 5000 });
  }
}

async function pgmqSql(dbUrl: string, queue: string): Promise<number> {
  const pool = new pg.Pool({ connectionString: dbUrl, max: SENDERS + WORKERS });
  await pool.query('select pgmq.create($1)', [queue]);
  let done = 0;
  let stop = false;
  const readers = Array.from({ length: WORKERS }, async () => {
    while (!stop) {
      const { rows } = await pool.query<{ msg_id: string }>('select msg_id from pgmq.read($1, 30, $2)', [queue, BATCH]);
      if (rows.length === 0) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      await pool.query('select pgmq.archive($1, $2::bigint[])', [queue, rows.map((r) => r.msg_id)]);
      done += rows.length;
    }
  });
  try {
    return await measure(
      (i) => pool.query('select pgmq.send($1, $2)', [queue, { i }]),
      () => done,
    );
  } finally {
    stop = true;
    await Promise.all(readers);
    await pool.end();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  await withBenchServer({ env: { JOBS_ENABLED: 'false' } }, async ({ dbUrl }) => {
    const runs = { trellis: [] as number[], floor: [] as number[], polling: [] as number[], pgmq: [] as number[] };
    // The figures take turns, round after round, so that a drifting machine slows them alike.
    // The runner and its floor swap places each round: on a machine whose load drifts, going first
    // is not always the better place.
    for (let round = 0; round < ROUNDS; round++) {
      const pair = [
        async () => runs.trellis.push(await trellisRunner(dbUrl, `bench_trellis_${round}`)),
        async () => runs.floor.push(await pgBossDirect(dbUrl, `bench_floor_${round}`, true)),
      ];
      for (const run of round % 2 ? pair.reverse() : pair) await run();
      runs.polling.push(await pgBossDirect(dbUrl, `bench_polling_${round}`, false));
      runs.pgmq.push(await pgmqSql(dbUrl, `bench_pgmq_${round}`));
    }
    const [trellis, floor, polling, pgmq] = [runs.trellis, runs.floor, runs.polling, runs.pgmq].map(median) as [
      number,
      number,
      number,
      number,
    ];
    const ratios = runs.trellis.map((t, i) => t / runs.floor[i]!);
    const row = (what: string, perSecond: number, all: number[]) =>
      `| ${what} | ${perSecond.toFixed(0)}/s | ${all.map((x) => x.toFixed(0)).join(', ')} | ${(perSecond / floor).toFixed(2)} |`;
    const table = [
      '| Operation | Jobs per second (median) | Rounds | Ratio to the floor |',
      '| --- | --- | --- | --- |',
      row("Trellis's job runner: `add` → handler → completed", trellis, runs.trellis),
      row('floor: pg-boss directly (`send` → `work` → completed), same settings and wake-ups', floor, runs.floor),
      row("pg-boss's `work` loop as it comes (a fetch per polling interval, 0.5 s)", polling, runs.polling),
      row('pgmq from SQL: `pgmq.send` → `pgmq.read` → `pgmq.archive`', pgmq, runs.pgmq),
      '',
      `Round by round, the runner over its floor: ${ratios.map((r) => r.toFixed(2)).join(', ')} (median ${median(ratios).toFixed(2)}).`,
    ].join('\n');
    report(
      'queues',
      `\`npx tsx bench/queues.ts\` (${JOBS} jobs a round from ${SENDERS} concurrent senders; ${WORKERS} workers taking batches of ${BATCH}; ${ROUNDS} rounds in which the four take turns, the runner and its floor in swapped order every other round; medians shown; pg-boss's plain loop on a fifth of the jobs)`,
      table,
      values.write === true,
    );
  });
}

await main();
