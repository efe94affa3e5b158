/**
 * `trellis start --workers 2` as a user runs it: every worker runs the scheduler (each /metrics
 * names its worker), and a 1-second job scheduled in a project migration still runs once per tick.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startCli, tempProject, type RunningCli } from '../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

const MIGRATION = `
create table public.heartbeats (id bigint generated always as identity primary key);
select cron.schedule('heartbeat', '1 seconds', 'insert into public.heartbeats default values');
`;

let cli: RunningCli;
let dir: string;
let database: TestDatabase;

/** GET on a connection of its own, so that the cluster hands each request to the next worker. */
function getFresh(url: string): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(''));
  });
}

beforeAll(async () => {
  dir = await tempProject({ '20260101000000_heartbeat.sql': MIGRATION });
  database = await freshDatabase();
  cli = await startCli(dir, {
    TRELLIS_WORKERS: '2',
    METRICS_PUBLIC: 'true',
    LOG_LEVEL: 'warn',
    DATABASE_URL: database.url,
  });
}, 120_000);

afterAll(async () => {
  if (cli?.child.exitCode === null) await cli.stop('SIGTERM');
  await database?.drop().catch(() => undefined);
  await fs.rm(dir, { recursive: true, force: true });
});

test('both workers run the scheduler, and each tick runs once', async () => {
  const byWorker = new Map<string, Record<string, number>>();
  const seen = (outcomes: Record<string, number>) => (outcomes.succeeded ?? 0) + (outcomes.not_claimed ?? 0);
  // Each worker sees the ticks: it runs some, and loses the claim of the others to its sibling. A
  // loaded machine may start one worker's scheduler late: wait for both, within a bound.
  await new Promise((resolve) => setTimeout(resolve, 4000));
  const deadline = Date.now() + 30_000;
  do {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (let i = 0; i < 8; i++) {
      const body = await getFresh(`${cli.url}/metrics`);
      for (const m of body.matchAll(
        /^trellis_cron_ticks_total\{(?=[^}]*outcome="(\w+)")(?=[^}]*worker="(\d+)")[^}]*\} (\d+)$/gm,
      ))
        byWorker.set(m[2]!, { ...byWorker.get(m[2]!), [m[1]!]: Number(m[3]) });
    }
  } while ((byWorker.size < 2 || [...byWorker.values()].some((o) => seen(o) <= 2)) && Date.now() < deadline);
  expect(byWorker.size).toBe(2);
  for (const outcomes of byWorker.values()) expect(seen(outcomes)).toBeGreaterThan(2);
  const sql = new pg.Client({ connectionString: database.url });
  await sql.connect();
  try {
    const { rows } = await sql.query<{ runs: number; ticks: number; rows: number; failed: number }>(
      `select count(*)::int as runs, count(distinct scheduled_at)::int as ticks,
              (select count(*)::int from public.heartbeats) as rows,
              count(*) filter (where status <> 'succeeded')::int as failed
         from cron.job_run_details where status <> 'running'`,
    );
    expect(rows[0]!.runs).toBeGreaterThanOrEqual(4);
    expect(rows[0]!.ticks).toBe(rows[0]!.runs);
    expect(rows[0]!.failed).toBe(0);
    expect(rows[0]!.rows).toBeGreaterThanOrEqual(rows[0]!.runs);
  } finally {
    await sql.end();
  }
  expect(await cli.stop('SIGTERM')).toMatchObject({ code: 0 });
}, 60_000);
