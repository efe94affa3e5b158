/**
 * cron.schedule / unschedule / alter_job / schedule_in_database against a real PostgreSQL, as
 * pg_cron answers them: names, updates, errors that name what is wrong, bad input, and each role
 * seeing and changing only its own jobs.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cronDatabase, type CronDatabase } from './cron-helpers.js';

let cron: CronDatabase;
let sql: pg.Pool;
let owner: string;
const as = <T = Record<string, unknown>>(role: string, text: string, values?: unknown[]) =>
  cron.as<T>(role, text, values);
const one = <T = unknown>(text: string, values?: unknown[]) => cron.one<T>(text, values);
const error = (text: string, values?: unknown[]) => cron.error(text, values);

beforeAll(async () => {
  cron = await cronDatabase();
  ({ sql, owner } = cron);
});

afterAll(async () => {
  await cron?.drop();
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
