/**
 * Trellis's job runner (src/jobs/queue) against a real PostgreSQL: a job runs, a delayed job waits,
 * a failing job retries with growing delays and then is dead (in SQL and in its dead-letter queue),
 * two runners share jobs without running one twice, a closing runner finishes what it runs, a
 * worker killed mid-job leaves its job to run again (at-least-once), and /metrics reports queues.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Registry } from 'prom-client';
import { waitForValue } from '../helpers/realtime.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Db } from '../../src/db/pool.js';
import { createJobRunner, registerQueueMetrics, type JobRunner, type JobRunnerOptions } from '../../src/jobs/index.js';
import { createLogger } from '../../src/platform/logger.js';
import { freshDatabase, migrateOwnSchema, testDb, type TestDatabase } from '../helpers/db.js';

const log = createLogger({ level: 'silent', pretty: false });
let database: TestDatabase;
let db: Db;
let sql: pg.Pool;
const runners: JobRunner[] = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function runner(options: Partial<JobRunnerOptions> = {}): Promise<JobRunner> {
  const made = await createJobRunner({ url: database.url, log, retryDelaySeconds: 1, ...options });
  runners.push(made);
  return made;
}
const jobState = async (id: string) =>
  (await sql.query<{ state: string }>('select state::text from pgboss.job where id = $1', [id])).rows[0]?.state;

beforeAll(async () => {
  database = await freshDatabase();
  db = testDb(database.url);
  await migrateOwnSchema(db);
  sql = new pg.Pool({ connectionString: database.url, max: 3 });
  await sql.query(
    'create table public.started (n int, attempt int, pid int, at timestamptz default clock_timestamp())',
  );
});

afterAll(async () => {
  await Promise.allSettled(runners.map((r) => r.close(1000)));
  await sql?.end();
  await db?.close();
  await database?.drop();
});

describe('the job runner', () => {
  test('runners starting together (the workers of --workers N) all make the same queues', async () => {
    // pg-boss makes each queue's partition with DDL: at the same moment, processes deadlock on it.
    const together = await Promise.all([1, 2, 3, 4].map(() => runner()));
    await Promise.all(together.map((r) => r.handle('together', async () => undefined)));
    await Promise.all(together.map((r, i) => r.add('together', { i })));
    const { rows } = await sql.query("select count(*)::int as n from pgboss.queue where name like 'together%'");
    expect(rows).toEqual([{ n: 2 }]);
  });

  test('a job runs with its payload, on its first attempt', async () => {
    const jobs = await runner();
    const seen: unknown[] = [];
    await jobs.handle<{ to: string }>('mail', async (payload, job) => {
      seen.push({ payload, attempt: job.attempt, task: job.task });
    });
    const id = await jobs.add('mail', { to: 'a@example.com' });
    await waitForValue('the job', async () => (seen.length > 0 ? true : undefined));
    expect(seen).toEqual([{ payload: { to: 'a@example.com' }, attempt: 1, task: 'mail' }]);
    await waitForValue('completed', async () => ((await jobState(id)) === 'completed' ? true : undefined));
  });

  test('a delayed job does not run before its time', async () => {
    const jobs = await runner();
    const ran: number[] = [];
    await jobs.handle('later', async () => void ran.push(Date.now()));
    const runAt = new Date(Date.now() + 1500);
    await jobs.add('later', {}, { runAt });
    await waitForValue('the delayed job', async () => (ran.length > 0 ? true : undefined));
    expect(ran[0]!).toBeGreaterThanOrEqual(runAt.getTime() - 50);
  });

  test('a failing job retries with growing delays, then is dead: in trellis.dead_jobs and its dead-letter queue', async () => {
    const jobs = await runner({ maxAttempts: 5 });
    const attempts: { attempt: number; at: number }[] = [];
    await jobs.handle('flaky', async (_payload, job) => {
      attempts.push({ attempt: job.attempt, at: Date.now() });
      throw new Error(`boom ${job.attempt}`);
    });
    const id = await jobs.add('flaky', { n: 1 }, { maxAttempts: 3 });
    await waitForValue('the last attempt', async () => ((await jobState(id)) === 'failed' ? true : undefined), 30_000);
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    const [first, second, third] = attempts.map((a) => a.at);
    // pg-boss's backoff: about retryDelay × 2^n, with jitter up to the same again.
    expect(second! - first!).toBeGreaterThanOrEqual(900);
    expect(third! - second!).toBeGreaterThanOrEqual(1900);
    const dead = await sql.query('select task, attempts, payload, error from trellis.dead_jobs where id = $1', [id]);
    expect(dead.rows).toEqual([{ task: 'flaky', attempts: 3, payload: { n: 1 }, error: { message: 'boom 3' } }]);
    const letters = await sql.query(`select data from pgboss.job where name = 'flaky.dead'`);
    expect(letters.rows).toEqual([{ data: { n: 1 } }]);
    expect(jobs.counts().get('flaky')).toEqual({ completed: 0, failed: 3 });
  }, 40_000);

  test('a job waiting for its retry is visible in trellis.stuck_jobs', async () => {
    const jobs = await runner({ retryDelaySeconds: 60 });
    let runs = 0;
    await jobs.handle('stalls', async () => {
      runs++;
      throw new Error('not yet');
    });
    const id = await jobs.add('stalls', {});
    await waitForValue('the first failure', async () => ((await jobState(id)) === 'retry' ? true : undefined));
    const stuck = await sql.query('select task, state, attempts, why from trellis.stuck_jobs where id = $1', [id]);
    expect(stuck.rows).toEqual([
      { task: 'stalls', state: 'retry', attempts: 1, why: 'failed, waiting for its next attempt' },
    ]);
    expect(runs).toBe(1);
  });

  test('two runners share the jobs of a task and run each once', async () => {
    const [one, two] = [await runner(), await runner()];
    const ran = new Map<number, string[]>();
    const handler = (who: string) => async (payload: { n: number }) => {
      ran.set(payload.n, [...(ran.get(payload.n) ?? []), who]);
      await sleep(5);
    };
    await one.handle('shared', handler('one'), { batchSize: 5 });
    await two.handle('shared', handler('two'), { batchSize: 5 });
    // Added from both: a job added here wakes a worker here, so one adder would feed its own workers first.
    for (let n = 0; n < 60; n++) await (n % 2 ? one : two).add('shared', { n });
    await waitForValue('every job', async () => (ran.size === 60 ? true : undefined));
    await sleep(500);
    expect([...ran.values()].every((who) => who.length === 1)).toBe(true);
    const runners = new Set([...ran.values()].flat());
    expect(runners).toEqual(new Set(['one', 'two']));
  });

  test('close lets a running job finish', async () => {
    const jobs = await createJobRunner({ url: database.url, log });
    let finished = false;
    let started = false;
    await jobs.handle('long', async () => {
      started = true;
      await sleep(700);
      finished = true;
    });
    const id = await jobs.add('long', {});
    await waitForValue('the start', async () => (started ? true : undefined));
    await jobs.close(5000);
    expect(finished).toBe(true);
    await waitForValue('completed', async () => ((await jobState(id)) === 'completed' ? true : undefined), 5000);
  });

  test('a runner that does not work (JOBS_ENABLED=false) adds jobs and runs none', async () => {
    const adder = await runner({ work: false });
    let ran = 0;
    await adder.handle('idle_here', async () => void ran++);
    const id = await adder.add('idle_here', {});
    await sleep(1200);
    expect(ran).toBe(0);
    expect(await jobState(id)).toBe('created');
    const worker = await runner();
    await worker.handle('idle_here', async () => void ran++);
    await waitForValue('the job elsewhere', async () => ((await jobState(id)) === 'completed' ? true : undefined));
    expect(ran).toBe(1);
  });

  test('trellis.add_job adds a job from SQL (a trigger), with its task settings', async () => {
    const jobs = await runner();
    const seen: unknown[] = [];
    await jobs.handle('from_sql', async (payload, job) => void seen.push({ payload, attempt: job.attempt }));
    await sql.query(`
      create table public.signups (email text);
      create function public.welcome() returns trigger language plpgsql security definer as $$
      begin perform trellis.add_job('from_sql', jsonb_build_object('email', new.email)); return new; end $$;
      create trigger welcome after insert on public.signups for each row execute function public.welcome();`);
    await sql.query(`insert into public.signups values ('new@example.com')`);
    await waitForValue('the job from SQL', async () => (seen.length > 0 ? true : undefined));
    expect(seen).toEqual([{ payload: { email: 'new@example.com' }, attempt: 1 }]);
    const [row] = (
      await sql.query(`select retry_limit, dead_letter, extract(epoch from expire_in)::int as expire from pgboss.job
                         where name = 'from_sql'`)
    ).rows;
    expect(row).toEqual({ retry_limit: 4, dead_letter: 'from_sql.dead', expire: 300 });
    await expect(sql.query(`select trellis.add_job('no_such_task')`)).rejects.toMatchObject({
      code: '22023',
      message: "no task 'no_such_task'",
    });
  });

  test('a task name that is not plain is refused', async () => {
    const jobs = await runner();
    await expect(jobs.add('a b', {})).rejects.toThrow(/invalid task name "a b"/);
    await expect(jobs.add('x.dead', {})).rejects.toThrow(/invalid task name/);
    await expect(jobs.add('ok', {}, { maxAttempts: 0 })).rejects.toThrow(/maxAttempts/);
  });
});

describe('a worker killed mid-job', () => {
  test('its job runs again on another worker (at-least-once)', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./queue-runner-child.ts', import.meta.url))],
      {
        env: { ...process.env, JOBS_TEST_URL: database.url },
        stdio: 'ignore',
      },
    );
    try {
      const jobs = await runner({ timeoutSeconds: 2, maintenanceIntervalSeconds: 1 });
      // The child makes the queue with the same settings; the job waits for it to take it.
      await waitForValue('the child to start', async () =>
        (await sql.query(`select 1 from pgboss.queue where name = 'slow'`)).rowCount ? true : undefined,
      );
      const id = await jobs.add('slow', { n: 7 });
      await waitForValue('the child to take the job', async () =>
        (await sql.query('select 1 from public.started where n = 7')).rowCount ? true : undefined,
      );
      child.kill('SIGKILL');
      const again: { attempt: number }[] = [];
      await jobs.handle<{ n: number }>('slow', async (payload, job) => void again.push({ attempt: job.attempt }));
      await waitForValue('the second run', async () => (again.length > 0 ? true : undefined), 30_000);
      expect(again[0]!.attempt).toBe(2);
      await waitForValue('completed', async () => ((await jobState(id)) === 'completed' ? true : undefined));
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});

describe('metrics', () => {
  test('/metrics has each queue and task', async () => {
    await sql.query(`select pgmq.create('metered')`);
    await sql.query(`select pgmq.send_batch('metered', array['1', '2']::jsonb[])`);
    const jobs = await runner();
    await jobs.add('metered_task', {});
    const registry = new Registry();
    registerQueueMetrics(registry, db, log, jobs);
    const text = await registry.metrics();
    expect(text).toContain('trellis_queue_depth{queue="metered"} 2');
    expect(text).toContain('trellis_queue_messages_sent{queue="metered"} 2');
    expect(text).toMatch(/trellis_queue_oldest_message_age_seconds\{queue="metered"\} \d/);
    expect(text).toContain('trellis_jobs{task="metered_task",state="created"} 1');
    expect(text).toContain('trellis_jobs{task="flaky",state="failed"} 1');
    expect(text).toMatch(/trellis_jobs_oldest_waiting_seconds\{task="metered_task"\} \d/);
    expect(text).toContain('trellis_jobs_failed_runs');
  });
});
