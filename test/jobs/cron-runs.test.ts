/**
 * Cron's scheduler against a real PostgreSQL: two schedulers on one database run the jobs once per
 * tick, as the job's owner (through its own login), failures and command tags recorded, a job never
 * alongside itself, dead runs and old runs swept, a stop cancelling what runs; then a server login
 * that may not create roles, a database out of reach, and a cron schema that is not Trellis's.
 */
import crypto from 'node:crypto';
import type pg from 'pg';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Db } from '../../src/db/pool.js';
import { startCronScheduler, type CronScheduler } from '../../src/jobs/index.js';
import { freshDatabase, testDb } from '../helpers/db.js';
import { migrateOwnSchema } from '../helpers/db.js';
import { cronDatabase, sleep, type CronDatabase } from './cron-helpers.js';

const silent = pino({ level: 'silent' });
let cron: CronDatabase;
let sql: pg.Pool;
let owner: string;
const as = <T = Record<string, unknown>>(role: string, text: string, values?: unknown[]) =>
  cron.as<T>(role, text, values);
const one = <T = unknown>(text: string, values?: unknown[]) => cron.one<T>(text, values);

beforeAll(async () => {
  cron = await cronDatabase();
  ({ sql, owner } = cron);
});

afterAll(async () => {
  await cron?.drop();
});
let db: Db;
let database: CronDatabase['database'];
beforeAll(() => {
  ({ db, database } = cron);
});

describe('two schedulers on one database', () => {
  const instances: CronScheduler[] = [];
  const ranBy: string[][] = [[], []];
  const registries = [new Registry(), new Registry()];

  beforeAll(async () => {
    await sql.query(`
      create table public.ticks (id bigint generated always as identity, at timestamptz default now());
      create table public.seen (who text, escaped text);
      create table public.secret (x text);
      create table public.multi (x int);
      grant insert on public.seen to ${owner};
      grant select on cron.job_run_details to ${owner};`);
    // A run left 'running' by an instance that died, and one a week and a day old.
    await sql.query(`
      insert into cron.job_run_details (jobid, job_pid, status, start_time, scheduled_at) values
        (-1, 2147483647, 'running', now() - interval '2 minutes', now() - interval '2 minutes'),
        (-2, null, 'succeeded', now() - interval '8 days', now() - interval '8 days')`);
    await sql.query(`select cron.schedule('every-second', '1 seconds', 'insert into public.ticks default values')`);
    await sql.query(`select cron.schedule('failing', '1 seconds', 'select 1/0')`);
    await sql.query(`select cron.schedule('slow', '1 seconds', 'select pg_sleep(2.5)')`);
    await sql.query(`select cron.schedule('reads', '2 seconds', 'select 1 union select 2')`);
    await sql.query(`select cron.schedule('vacuums', '3 seconds', 'vacuum public.multi')`);
    await sql.query(
      `select cron.schedule('two-statements', '2 seconds', 'insert into public.multi values (1); delete from public.multi')`,
    );
    await as(
      owner,
      `select cron.schedule('as-owner', '2 seconds', 'insert into public.seen (who) select current_user')`,
    );
    await as(
      owner,
      `select cron.schedule('forbidden', '2 seconds', 'insert into public.secret values (current_user)')`,
    );
    await as(
      owner,
      `select cron.schedule('escape', '2 seconds', 'reset role; insert into public.seen select current_user, ''reset''')`,
    );
    for (const [i] of ranBy.entries())
      instances.push(
        startCronScheduler({
          db,
          url: database.url,
          log: silent,
          jobTimeoutS: 60,
          retentionDays: 7,
          registry: registries[i],
          onRun: (jobid, tick, outcome) => {
            if (outcome.ran) ranBy[i]!.push(`${jobid}@${tick}`);
          },
        }),
      );
    expect(await Promise.all(instances.map((s) => s.ready))).toEqual([true, true]);
    await sleep(5500);
    await sql.query(`update cron.job set active = false where jobname <> 'slow'`);
    await sleep(1200);
  }, 30_000);

  afterAll(async () => {
    await Promise.all(instances.map((s) => s.close()));
  });

  const runs = async (jobname: string) =>
    (
      await sql.query<{
        status: string;
        return_message: string;
        tick: string;
        start_time: Date;
        end_time: Date | null;
      }>(
        `select r.status, r.return_message, r.scheduled_at::text as tick, r.start_time, r.end_time
           from cron.job_run_details r join cron.job j using (jobid) where j.jobname = $1 order by r.scheduled_at`,
        [jobname],
      )
    ).rows;

  test('a 1-second job runs each tick exactly once across both, recorded as succeeded', async () => {
    const done = await runs('every-second');
    expect(done.length).toBeGreaterThanOrEqual(4);
    expect(new Set(done.map((r) => r.tick)).size).toBe(done.length);
    expect(done.every((r) => r.status === 'succeeded' && r.return_message === 'INSERT 0 1')).toBe(true);
    expect(await one('select count(*)::int from public.ticks')).toBe(done.length);
    // Consecutive ticks: none skipped while both ran.
    const ticks = done.map((r) => Date.parse(r.tick));
    expect(ticks.slice(1).map((t, i) => t - ticks[i]!)).toEqual(ticks.slice(1).map(() => 1000));
  });

  test.each([
    ['reads', '2 rows'],
    ['vacuums', 'VACUUM'],
    ['two-statements', 'DELETE 1'],
  ])('%s records its last command tag: %s', async (jobname, message) => {
    const done = await runs(jobname);
    expect(done.length).toBeGreaterThanOrEqual(1);
    expect(done.map((r) => [r.status, r.return_message])).toEqual(done.map(() => ['succeeded', message]));
  });

  test('a failing command is recorded as failed with its error', async () => {
    const failed = await runs('failing');
    expect(failed.length).toBeGreaterThanOrEqual(4);
    expect(failed.every((r) => r.status === 'failed' && r.return_message === 'division by zero')).toBe(true);
    expect(failed.every((r) => r.end_time !== null)).toBe(true);
  });

  test("a command runs as the job's owner, and cannot reset role to the server's login", async () => {
    expect((await sql.query('select distinct who, escaped from public.seen order by 2 nulls first')).rows).toEqual([
      { who: owner, escaped: null },
    ]);
    const forbidden = await runs('forbidden');
    expect(forbidden.length).toBeGreaterThanOrEqual(2);
    expect(
      forbidden.every((r) => r.status === 'failed' && r.return_message === 'permission denied for table secret'),
    ).toBe(true);
    expect(await one('select count(*)::int from public.secret')).toBe(0);
    const escape = await runs('escape');
    expect(escape.length).toBeGreaterThanOrEqual(2);
    expect(
      escape.every((r) => r.status === 'failed' && /permission denied for table seen/.test(r.return_message)),
    ).toBe(true);
    // Its login: NOINHERIT, no superuser, a member of the owner only.
    const logins = await sql.query(
      `select r.rolinherit, r.rolsuper, r.rolcreaterole, array(select b.rolname from pg_auth_members m
              join pg_roles b on b.oid = m.roleid where m.member = r.oid)::text[] as member_of
         from trellis.cron_logins l join pg_roles r on r.rolname = l.role_name where l.owner_name = $1`,
      [owner],
    );
    expect(logins.rows).toEqual([{ rolinherit: false, rolsuper: false, rolcreaterole: false, member_of: [owner] }]);
    // The owner reads its own runs, not the others'.
    expect(await as(owner, 'select distinct username from cron.job_run_details')).toEqual([{ username: owner }]);
  });

  test('a job still running when its next tick comes is not started again', async () => {
    const slow = await runs('slow');
    expect(slow.length).toBeGreaterThanOrEqual(2);
    expect(slow.length).toBeLessThanOrEqual(3);
    for (const [i, run] of slow.entries()) {
      const next = slow[i + 1];
      if (next && run.end_time) expect(next.start_time.getTime()).toBeGreaterThanOrEqual(run.end_time.getTime());
    }
  });

  // Which instance wins a claim is a race (in one process, usually the first timer): what matters
  // is that no (job, tick) ran on both, nor twice on one.
  test('no job ran a tick on both instances, nor twice on one', () => {
    const [a, b] = ranBy.map((ran) => new Set(ran)) as [Set<string>, Set<string>];
    expect([...a].filter((run) => b.has(run))).toEqual([]);
    expect(a.size + b.size).toBe(ranBy[0]!.length + ranBy[1]!.length);
    expect(a.size + b.size).toBeGreaterThan(10);
  });

  test('each instance counts its ticks by outcome on /metrics', async () => {
    const counts: Record<string, number> = {};
    for (const registry of registries) {
      const metric = await registry.getSingleMetric('trellis_cron_ticks_total')!.get();
      for (const v of metric.values)
        counts[String(v.labels.outcome)] = (counts[String(v.labels.outcome)] ?? 0) + v.value;
    }
    const recorded = await one<number>(`select count(*)::int from cron.job_run_details where jobid > 0`);
    // Only the slow job may be under way as this reads: its run is recorded, not yet counted.
    const counted = (counts.succeeded ?? 0) + (counts.failed ?? 0);
    expect(counted).toBeLessThanOrEqual(recorded);
    expect(counted).toBeGreaterThanOrEqual(recorded - 1);
    // Both instances tried most ticks: the loser of each claim counts it as not_claimed.
    expect(counts.not_claimed).toBeGreaterThan(0);
    expect(counts.running_here).toBeGreaterThan(0);
  });

  test('a run whose instance died is marked failed; runs past retention are deleted', async () => {
    expect((await sql.query(`select status, return_message from cron.job_run_details where jobid = -1`)).rows).toEqual([
      { status: 'failed', return_message: 'the server running the job stopped before it finished' },
    ]);
    expect(await one('select count(*)::int from cron.job_run_details where jobid = -2')).toBe(0);
  });

  test('stopping cancels a command under way, recorded as failed', async () => {
    await sql.query(
      `select cron.alter_job(jobid, schedule := '1 seconds', command := 'select pg_sleep(30)') from cron.job where jobname = 'slow'`,
    );
    const running = async () =>
      one<number>(
        `select count(*)::int from cron.job_run_details where command = 'select pg_sleep(30)' and status = 'running'`,
      );
    for (let i = 0; i < 50 && (await running()) === 0; i++) await sleep(100);
    expect(await running()).toBe(1);
    const started = Date.now();
    await Promise.all(instances.splice(0).map((s) => s.close()));
    expect(Date.now() - started).toBeLessThan(5000);
    const last = (await runs('slow')).at(-1)!;
    expect(last.status).toBe('failed');
    expect(last.return_message).toContain('canceling statement');
  });
});

describe("an owner's login that lost its membership", () => {
  test('fails one run, then is granted again and the job goes on', async () => {
    await sql.query('create table public.regrant (who text)');
    await sql.query(`grant insert on public.regrant to ${owner}`);
    expect(
      await as(
        owner,
        `select cron.schedule('regrant', '1 seconds', 'insert into public.regrant select current_user') as id`,
      ),
    ).toEqual([{ id: expect.any(String) }]);
    const scheduler = startCronScheduler({ db, url: database.url, log: silent, jobTimeoutS: 10, retentionDays: 0 });
    const statuses = async () =>
      (
        await sql.query<{ status: string; message: string }>(
          `select r.status, r.return_message as message from cron.job_run_details r join cron.job j using (jobid)
            where j.jobname = 'regrant' order by r.scheduled_at`,
        )
      ).rows;
    try {
      for (let i = 0; i < 40 && !(await statuses()).some((r) => r.status === 'succeeded'); i++) await sleep(100);
      const login = await one<string>('select role_name from trellis.cron_logins where owner_name = $1', [owner]);
      await sql.query(`revoke ${owner} from "${login}"`);
      await sleep(3200);
    } finally {
      await scheduler.close();
    }
    const after = (await statuses()).map((r) => (r.status === 'failed' ? r.message : r.status));
    await as(owner, `select cron.unschedule('regrant')`);
    const failedAt = after.findIndex((r) => r !== 'succeeded');
    expect(after[failedAt]).toMatch(/permission denied to set role/);
    // The stop may cancel a run under way; every other run after the failed one succeeded.
    const later = after.slice(failedAt + 1).filter((r) => !r.includes('canceling statement'));
    expect(later).toContain('succeeded');
    expect(later.every((r) => r === 'succeeded')).toBe(true);
  });
});

describe('a server login that may not create roles', () => {
  const login = `cron_server_${crypto.randomBytes(4).toString('hex')}`;
  let asLogin: Db | undefined;

  afterAll(async () => {
    await asLogin?.close();
    await sql.query(`drop owned by ${login}`);
    await sql.query(`drop role if exists ${login}`);
  });

  test("runs the owner's command after set role in the same query string, and warns once", async () => {
    await sql.query(`
      create role ${login} login bypassrls;
      grant ${owner} to ${login};
      grant usage on schema cron to ${login};
      grant insert, update on cron.job_run_details to ${login};
      grant usage on sequence cron.job_run_details_runid_seq to ${login};
      create table public.shared_seen (who text, session_user_name text);
      grant insert on public.shared_seen to ${owner};`);
    await as(
      owner,
      `select cron.schedule('shared', '1 seconds', 'insert into public.shared_seen select current_user, session_user')`,
    );
    const url = new URL(database.url);
    url.username = login;
    asLogin = testDb(url.toString());
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line).msg) });
    const scheduler = startCronScheduler({ db: asLogin, url: url.toString(), log, jobTimeoutS: 10, retentionDays: 0 });
    await sleep(2600);
    await scheduler.close();
    await as(owner, `select cron.unschedule('shared')`);
    const seen = await sql.query('select distinct who, session_user_name from public.shared_seen');
    expect(seen.rows).toEqual([{ who: owner, session_user_name: login }]);
    expect(lines).toEqual([
      'cron: the database user may not create a login for a job owner: its command runs after `set role` on the server login, which it could undo',
    ]);
  });
});

describe('a database out of reach', () => {
  test('is said once, retried each second, and does not hold a stop', async () => {
    const unreachable = testDb('postgres://postgres@127.0.0.1:1/none', { connectTimeoutMs: 200 });
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line).msg) });
    const scheduler = startCronScheduler({
      db: unreachable,
      url: 'postgres://127.0.0.1:1/none',
      log,
      jobTimeoutS: 0,
      retentionDays: 0,
    });
    await sleep(2600);
    const started = Date.now();
    await scheduler.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await scheduler.ready).toBe(false);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^cron: a pass failed, retrying each second: /);
    await unreachable.close();
  });
});

describe('a cron schema that is not Trellis’s', () => {
  test('is left alone by the migration, and no scheduler runs on it', async () => {
    const other = await freshDatabase();
    const otherDb = testDb(other.url);
    try {
      await otherDb.query('create schema cron; create table cron.job (jobid bigint, schedule text, command text)');
      await migrateOwnSchema(otherDb);
      expect((await otherDb.query(`select to_regprocedure('cron.schedule(text,text,text)') as f`)).rows[0]).toEqual({
        f: null,
      });
      const lines: string[] = [];
      const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line).msg) });
      const scheduler = startCronScheduler({ db: otherDb, url: other.url, log, jobTimeoutS: 0, retentionDays: 0 });
      expect(await scheduler.ready).toBe(false);
      await scheduler.close();
      expect(lines).toEqual(["cron: the cron schema is not Trellis's; Trellis runs no cron scheduler (docs/cron.md)"]);
    } finally {
      await otherDb.close();
      await other.drop();
    }
  });
});
