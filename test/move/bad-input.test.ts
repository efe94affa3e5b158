/** `trellis move` refuses bad input with one line and exit code 1, and leaves the target as it was. */
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli, startCli, tempProject } from '../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { MIGRATIONS, query, statusOf } from './helpers.js';

const oneLine = (stderr: string) => {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  return stderr.trim();
};

describe('trellis move bad input', () => {
  let dir: string;
  let target: TestDatabase;
  const schemas = () =>
    query<{ n: string }>(
      target.url,
      `select nspname as n from pg_namespace where nspname not like 'pg\\_%' and nspname <> 'information_schema' order by 1`,
    );
  const publicObjects = () =>
    query(
      target.url,
      `select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where nspname = 'public'`,
    );

  beforeAll(async () => {
    dir = await tempProject(MIGRATIONS);
    target = await freshDatabase();
    const server = await startCli(dir);
    try {
      // Made in psql, outside any migration: the move cannot replay it.
      await query(
        (await statusOf(dir)).DB_URL,
        `create table handmade (id int); alter table notes add column extra text`,
      );
    } finally {
      await server.stop();
    }
  }, 120_000);
  afterAll(async () => {
    await target?.drop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test.each([
    [['--to', 'not a url'], /^trellis: --to: must be a postgres:\/\/user@host:port\/database URL \(got "not a url"\)$/],
    [['--to', 'mysql://u@h/db'], /^trellis: --to: must be a postgres:\/\/ or postgresql:\/\/ URL/],
    [['--to', 'postgres://u@127.0.0.1:5432'], /^trellis: --to: the URL names no database/],
    [['--from', 'postgres://u@h:5432/'], /^trellis: --from: the URL names no database/],
    [[], /^trellis: give either --to postgres:\/\/… \(to a server\) or --from/],
    [['--to', 'postgres://u@h/a', '--from', 'postgres://u@h/b'], /^trellis: give either --to/],
    [['--to', 'postgres://u@h/a', '--follow', '--finish'], /^trellis: --follow starts following and --finish ends it/],
    [['--from', 'postgres://u@h/a', '--follow'], /^trellis: --follow, --finish and --storage-to go with --to$/],
    [['--to', 'postgres://u@h/a', '--storage-to', 'http://bucket'], /^trellis: --storage-to: must be s3:\/\/<bucket>/],
    [
      ['--to', 'postgres://u@h/a', '--storage-to', 's3://Bad_Bucket'],
      /^trellis: --storage-to: "Bad_Bucket" is not a valid S3 bucket name$/,
    ],
    [
      ['--to', 'postgres://u@h/a', '--storage-to', 's3://bucket/some/prefix'],
      /^trellis: --storage-to: Trellis's S3 store keeps objects at the root/,
    ],
    [['--to', 'postgres://u@h/a', '--bogus'], /^trellis: Unknown option '--bogus'/],
  ])('move %j is refused', async (args, message) => {
    const result = await runCli(['move', ...args, '--dir', dir]);
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toMatch(message);
  });

  test('an unreachable server is named, with its password hidden', async () => {
    const result = await runCli(['move', '--to', 'postgres://u:secret@127.0.0.1:1/db', '--dir', dir], {}, 60_000);
    expect(result.code).toBe(1);
    const line = oneLine(result.stderr);
    expect(line).toMatch(
      /cannot connect to the target database postgres:\/\/u:\*\*\*\*\*@127\.0\.0\.1:1\/db: connection refused/,
    );
    expect(line).not.toContain('secret');
  }, 60_000);

  test('the database the project already runs on is refused as the target', async () => {
    const result = await runCli(['move', '--to', target.url, '--dir', dir], { DATABASE_URL: target.url }, 60_000);
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toBe('trellis: --to: is the database the project already runs on');
  }, 60_000);

  test('a target that holds project data is refused, naming it, and is left alone', async () => {
    const full = await freshDatabase();
    try {
      await query(full.url, 'create table public.mine (id int)');
      const result = await runCli(['move', '--to', full.url, '--dir', dir], {}, 60_000);
      expect(result.code).toBe(1);
      expect(oneLine(result.stderr)).toMatch(
        /already holds project data \(table public\.mine\); a move needs an empty database/,
      );
      expect(await query(full.url, `select count(*)::int as n from pg_namespace where nspname = 'trellis'`)).toEqual([
        { n: 0 },
      ]);
    } finally {
      await full.drop();
    }
  }, 60_000);

  test('tables and columns made outside the migrations are listed, and what the move made is removed', async () => {
    const before = await schemas();
    const result = await runCli(['move', '--to', target.url, '--dir', dir], {}, 120_000);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /trellis: the source has tables public\.handmade and columns public\.notes\.extra that no migration makes .*put their DDL in a migration file/,
    );
    expect(result.stdout).toMatch(/removed from the target what the move had made: .*schema auth/);
    expect(await schemas()).toEqual(before);
    expect(await publicObjects()).toEqual([]);
    expect(await query(target.url, 'select count(*)::int as n from pg_publication')).toEqual([{ n: 0 }]);
  }, 120_000);

  test('--from a database without a Trellis project is refused', async () => {
    const empty = await freshDatabase();
    const into = await tempProject(MIGRATIONS);
    try {
      const result = await runCli(['move', '--from', empty.url, '--dir', into], {}, 60_000);
      expect(result.code).toBe(1);
      expect(oneLine(result.stderr)).toMatch(/the source database .* holds no Trellis project/);
    } finally {
      await empty.drop();
      await fs.rm(into, { recursive: true, force: true });
    }
  }, 60_000);
});
