/**
 * Cron against a real PostgreSQL: cron.schedule / unschedule / alter_job as pg_cron answers them
 * (bad input included), and two schedulers on one database running the jobs: once per tick,
 * as the job's owner, failures recorded, a job never alongside itself, old runs swept.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/pool.js';
import { startCronScheduler, type CronScheduler } from '../../src/jobs/index.js';
import { adminUrl, freshDatabase, testDb, type TestDatabase } from '../helpers/db.js';

let database: TestDatabase;
let db: Db;
let sql: pg.Pool;
const owner = `cron_owner_${crypto.randomBytes(4).toString('hex')}`;
const silent = pino({ level: 'silent' });

async function migrated(url: string, target: Db): Promise<void> {
  const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-cron-'));
  await migrate(target, empty, { dryRun: false, onProgress: () => undefined });
  await fs.rm(empty, { recursive: true, force: true });
  void url;
}

/** Runs `text` as `role` (set role in a transaction), answering its rows or its error's message. */
async function as<T = Record<string, unknown>>(role: string, text: string, values?: unknown[]): Promise<T[] | string> {
  const client = await sql.connect();
  try {
    await client.query('begin');
    await client.query(`set local role ${role}`);
    const { rows } = await client.query(text, values);
    await client.query('commit');
    return rows as T[];
  } catch (err) {
    await client.query('rollback');
    return (err as Error).message;
  } finally {
    client.release();
  }
}

const one = async <T = unknown>(text: string, values?: unknown[]): Promise<T> =>
  Object.values((await sql.query(text, values)).rows[0] ?? {})[0] as T;
const error = async (text: string, values?: unknown[]): Promise<string> =>
  sql.query(text, values).then(
    () => 'no error',
    (err: Error) => err.message,
  );
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  database = await freshDatabase();
  db = testDb(database.url);
  await migrated(database.url, db);
  sql = new pg.Pool({ connectionString: database.url, max: 4 });
  await sql.query(`create role ${owner} nologin`);
  await sql.query(`grant usage on schema cron to ${owner}`);
});

afterAll(async () => {
  const logins = sql
    ? (await sql.query<{ role_name: string }>('select role_name from trellis.cron_logins')).rows.map((r) => r.role_name)
    : [];
  await sql?.end();
  await db?.close();
  await database?.drop();
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  for (const role of [...logins, owner]) await admin.query(`drop role if exists "${role}"`);
  await admin.end();
});

describe('cron.schedule, unschedule and alter_job', () => {
  test('a named job is made once; scheduling the name again changes it', async () => {
    const id = await one<string>(`select cron.schedule('nightly-vacuum', '0 10 * * *', 'vacuum')`);
    expect(await one(`select cron.schedule('nightly-vacuum', '0 3 * * *', 'vacuum analyze')`)).toBe(id);
    expect(
      (await sql.query('select schedule, command, username, active, database from cron.job where jobid = $1', [id]))
        .rows,
    ).toEqual([
      {
        schedule: '0 3 * * *',
        command: 'vacuum analyze',
        username: 'postgres',
        active: true,
        database: expect.any(String),
      },
    ]);
    expect(await one(`select cron.unschedule('nightly-vacuum')`)).toBe(true);
    expect(await one('select count(*)::int from cron.job where jobid = $1', [id])).toBe(0);
  });

  test('an unnamed job is made each time and unscheduled by id', async () => {
    const a = await one<string>(`select cron.schedule('30 3 * * 6', 'select 1')`);
    const b = await one<string>(`select cron.schedule('30 3 * * 6', 'select 1')`);
    expect(a).not.toBe(b);
    expect(await one('select cron.unschedule($1::bigint)', [a])).toBe(true);
    expect(await one('select cron.unschedule($1::bigint)', [b])).toBe(true);
  });

  test('alter_job changes only what it is given', async () => {
    const id = await one<string>(`select cron.schedule('alter-me', '* * * * *', 'select 1')`);
    await sql.query(`select cron.alter_job($1, schedule := '5 seconds', active := false)`, [id]);
    expect((await sql.query('select schedule, command, active from cron.job where jobid = $1', [id])).rows).toEqual([
      { schedule: '5 seconds', command: 'select 1', active: false },
    ]);
    await sql.query(`select cron.alter_job($1, command := 'select 2')`, [id]);
    expect(await one('select command from cron.job where jobid = $1', [id])).toBe('select 2');
    await sql.query(`select cron.unschedule('alter-me')`);
  });

  test.each([
    [
      `select cron.schedule('bad', '61 * * * *', 'select 1')`,
      'invalid schedule "61 * * * *": minute 61 is not between 0 and 59',
    ],
    [
      `select cron.schedule('bad', '0 seconds', 'select 1')`,
      'invalid schedule "0 seconds": an interval is 1 to 59 seconds, not 0',
    ],
    [`select cron.schedule('bad', null, 'select 1')`, 'invalid schedule "<NULL>": a schedule is required'],
    [`select cron.schedule('bad', '* * * * *', '  ')`, 'a job needs a command'],
    [`select cron.schedule('bad', '* * * * *', null)`, 'a job needs a command'],
    [`select cron.unschedule(987654)`, 'could not find valid entry for job 987654'],
    [`select cron.unschedule('no such job')`, `could not find valid entry for job 'no such job'`],
    [`select cron.alter_job(987654, schedule := '* * * * *')`, 'could not find valid entry for job 987654'],
    [
      `select cron.schedule_in_database('other', '* * * * *', 'select 1', 'some_other_database')`,
      'database "some_other_database" is not this one',
    ],
    [`insert into cron.job (schedule, command) values ('* * * * * *', 'select 1')`, 'a schedule is 5 fields'],
  ])('%s fails: %s', async (statement, message) => {
    const before = await one<number>('select count(*)::int from cron.job');
    expect(await error(statement)).toContain(message);
    expect(await one('select count(*)::int from cron.job')).toBe(before);
  });

  test('schedule_in_database takes this database, a role to run as and whether the job is active', async () => {
    const id = await one<string>(
      `select cron.schedule_in_database('here', '@daily', 'select 1', current_database(), $1, false)`,
      [owner],
    );
    expect(
      (
        await sql.query(
          'select username, active, database = current_database() as here from cron.job where jobid = $1',
          [id],
        )
      ).rows,
    ).toEqual([{ username: owner, active: false, here: true }]);
    expect(await error(`select cron.alter_job($1, username := 'no_such_role_x')`, [id])).toContain(
      'role "no_such_role_x" does not exist',
    );
    expect(await error(`select cron.alter_job($1, database := 'elsewhere')`, [id])).toContain(
      'database "elsewhere" is not this one',
    );
    await sql.query('select cron.unschedule($1::bigint)', [id]);
  });

  test('an invalid schedule given to alter_job leaves the job as it was', async () => {
    const id = await one<string>(`select cron.schedule('keep-me', '* * * * *', 'select 1')`);
    expect(await error(`select cron.alter_job($1, schedule := 'every minute')`, [id])).toContain(
      'invalid schedule "every minute"',
    );
    expect(await one('select schedule from cron.job where jobid = $1', [id])).toBe('* * * * *');
    await sql.query(`select cron.unschedule($1::bigint)`, [id]);
  });

  test('a NUL byte in a command never reaches the table; quotes in a name are only a name', async () => {
    expect(
      await error(`select cron.schedule('nul', '* * * * *', $1)`, ['select 1\u0000; drop table cron.job']),
    ).toMatch(/invalid byte sequence|0x00/);
    const name = `x'); drop table cron.job; --`;
    const id = await one<string>(`select cron.schedule($1, '* * * * *', 'select 1')`, [name]);
    expect(await one('select jobname from cron.job where jobid = $1', [id])).toBe(name);
    expect(await one('select cron.unschedule($1::text)', [name])).toBe(true);
    expect(await one(`select to_regclass('cron.job')::text`)).toBe('cron.job');
  });

  test('a role schedules, sees and changes its own jobs only, and cannot give one away', async () => {
    const mine = (await as<{ id: string }>(owner, `select cron.schedule('owned', '0 * * * *', 'select 1') as id`)) as {
      id: string;
    }[];
    expect(await one('select username from cron.job where jobid = $1', [mine[0]!.id])).toBe(owner);
    const theirs = await one<string>(`select cron.schedule('postgres-job', '0 * * * *', 'select 1')`);
    expect(await as(owner, 'select jobname from cron.job order by jobid')).toEqual([{ jobname: 'owned' }]);
    expect(await as(owner, 'select cron.unschedule($1::bigint)', [theirs])).toContain(
      `could not find valid entry for job ${theirs}`,
    );
    expect(await as(owner, `select cron.alter_job($1, username := 'postgres')`, [mine[0]!.id])).toContain(
      'only a superuser may give a job to another role',
    );
    expect(await as(owner, `update cron.job set username = 'postgres' where jobid = $1`, [mine[0]!.id])).toContain(
      'row-level security',
    );
    expect(await as(owner, `select cron.unschedule('owned')`)).toEqual([{ unschedule: true }]);
    await sql.query('select cron.unschedule($1::bigint)', [theirs]);
  });

  test('without usage on schema cron a role cannot schedule', async () => {
    expect(await as('anon', `select cron.schedule('* * * * *', 'select 1')`)).toContain(
      'permission denied for schema cron',
    );
  });
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
      await migrated(other.url, otherDb);
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
