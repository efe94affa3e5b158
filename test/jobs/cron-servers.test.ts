/**
 * The done-when, end to end: a job scheduled in a project migration (as a Supabase project
 * schedules it) runs its SQL command on schedule on one of two running servers only, each tick once,
 * and goes on when one of them stops.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let first: TestServer;
let second: TestServer | undefined;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const MIGRATION = `
create table public.heartbeats (id bigint generated always as identity primary key, at timestamptz not null default now());
select cron.schedule('heartbeat', '1 seconds', $$insert into public.heartbeats default values$$);
`;

beforeAll(async () => {
  first = await startTestServer({ migrations: { '20260101000000_heartbeat.sql': MIGRATION } });
  second = await startTestServer({
    databaseUrl: first.databaseUrl,
    migrations: { '20260101000000_heartbeat.sql': MIGRATION },
  });
}, 60_000);

afterAll(async () => {
  await second?.stop();
  await first?.stop();
});

const runs = async () =>
  (
    await first.sql.query<{ tick: Date; status: string; return_message: string }>(
      `select scheduled_at as tick, status, return_message from cron.job_run_details order by scheduled_at`,
    )
  ).rows;

test('two servers run a 1-second job once per tick, and one carries on when the other stops', async () => {
  await sleep(4000);
  await second!.stop();
  second = undefined;
  await sleep(3000);
  const done = await runs();
  const ticks = done.map((r) => r.tick.getTime());
  // About seven seconds, with a tick at each; none twice, none lost while one server stopped.
  expect(done.length).toBeGreaterThanOrEqual(5);
  expect(new Set(ticks).size).toBe(ticks.length);
  expect(ticks.slice(1).map((t, i) => t - ticks[i]!)).toEqual(ticks.slice(1).map(() => 1000));
  expect(done.every((r) => r.status === 'succeeded' && r.return_message === 'INSERT 0 1')).toBe(true);
  const rows = await first.sql.query<{ n: number }>('select count(*)::int as n from public.heartbeats');
  expect(rows.rows[0]!.n).toBe(done.length);
}, 30_000);
