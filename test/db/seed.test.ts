/** The seed (supabase/seed.sql, or [db.seed] sql_paths): applied after the migrations on a fresh database's first run, never again. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { migrate, type MigrateOptions } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/pool.js';
import { FatalError } from '../../src/errors.js';
import { freshDatabase, testDb, type TestDatabase } from '../helpers/db.js';

let database: TestDatabase;
let db: Db;
let dir: string;
let seedFile: string;
const migrationsDir = () => path.join(dir, 'migrations');
const run = (
  seed: Partial<NonNullable<MigrateOptions['seed']>> = {},
  onProgress: (m: string) => void = () => undefined,
) =>
  migrate(db, migrationsDir(), {
    dryRun: false,
    onProgress,
    seed: { enabled: true, dir, paths: ['./seed.sql'], ...seed },
  });
const count = async (table: string) => Number((await db.query(`select count(*) as n from ${table}`)).rows[0]?.n);
const TABLE = `create table countries (code text primary key, name text not null);\n`;

beforeEach(async () => {
  database = await freshDatabase();
  db = testDb(database.url);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-seed-'));
  await fs.mkdir(migrationsDir());
  await fs.writeFile(path.join(migrationsDir(), '20240101000000_countries.sql'), TABLE);
  seedFile = path.join(dir, 'seed.sql');
});

afterEach(async () => {
  await db.close();
  await database.drop();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('supabase/seed.sql', () => {
  test('is applied after the migrations on a fresh database, and not on the next start', async () => {
    await fs.writeFile(
      seedFile,
      `insert into countries values ('US', 'United States');\ninsert into countries values ('CA', 'Canada');\n`,
    );
    const first = await run();
    expect(first.seeded).toBe(seedFile);
    expect(await count('countries')).toBe(2);
    await db.query(`delete from countries where code = 'CA'`);
    const second = await run();
    expect(second.seeded).toBeUndefined();
    expect(await count('countries')).toBe(1);
  });

  test('added after the first start, it is not applied to the existing database', async () => {
    await run();
    await fs.writeFile(seedFile, `insert into countries values ('US', 'United States');\n`);
    expect((await run()).seeded).toBeUndefined();
    expect(await count('countries')).toBe(0);
  });

  test('a database that already had project migrations (moved over from Supabase) is not seeded', async () => {
    await db.query(`create schema supabase_migrations;
      create table supabase_migrations.schema_migrations (version text primary key, statements text[], name text);
      insert into supabase_migrations.schema_migrations (version, name) values ('20240101000000', 'countries');`);
    await db.query(TABLE);
    await fs.writeFile(seedFile, `insert into countries values ('US', 'United States');\n`);
    expect((await run()).seeded).toBeUndefined();
    expect(await count('countries')).toBe(0);
  });

  test('a failing seed names its file and line, leaves nothing of itself, and is applied once fixed', async () => {
    await fs.writeFile(
      seedFile,
      `insert into countries values ('US', 'United States');\n\ninsert into countries values ('US', 'again');\n`,
    );
    const failure = await run().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(FatalError);
    expect((failure as Error).message).toMatch(new RegExp(`^seed ${seedFile} failed at line 3: .*duplicate key`));
    expect((failure as Error).message).not.toContain('\n');
    expect(await count('countries')).toBe(0);
    // The migrations before it stay applied; the seed stays due.
    expect(await count('supabase_migrations.schema_migrations')).toBe(1);
    await fs.writeFile(seedFile, `insert into countries values ('US', 'United States');\n`);
    expect((await run()).seeded).toBe(seedFile);
    expect(await count('countries')).toBe(1);
  });

  test('a first start whose migration failed still seeds on the start that succeeds', async () => {
    await fs.writeFile(path.join(migrationsDir(), '20240102000000_broken.sql'), `select * from nowhere;\n`);
    await fs.writeFile(seedFile, `insert into countries values ('US', 'United States');\n`);
    await expect(run()).rejects.toThrow(/20240102000000_broken\.sql failed at line 1/);
    await fs.writeFile(path.join(migrationsDir(), '20240102000000_broken.sql'), `select 1;\n`);
    expect((await run()).seeded).toBe(seedFile);
    expect(await count('countries')).toBe(1);
  });

  test('[db.seed] sql_paths: globs run in order, each sorted, a file matched twice once; a pattern matching nothing is named', async () => {
    await fs.mkdir(path.join(dir, 'seeds'));
    await fs.writeFile(path.join(dir, 'seeds', '02_ca.sql'), `insert into countries values ('CA', 'Canada');\n`);
    await fs.writeFile(path.join(dir, 'seeds', '01_us.sql'), `insert into countries values ('US', 'United States');\n`);
    await fs.writeFile(path.join(dir, 'seeds', 'notes.txt'), `not sql`);
    // Runs last: it needs both rows of the glob before it.
    await fs.writeFile(
      seedFile,
      `update countries set name = name || ' (' || (select count(*) from countries) || ')';\n`,
    );
    const progress: string[] = [];
    const report = await run({ paths: ['./seeds/*.sql', './seed.sql', 'seeds/01_us.sql', './nothing/*.sql'] }, (m) =>
      progress.push(m),
    );
    const files = [path.join(dir, 'seeds', '01_us.sql'), path.join(dir, 'seeds', '02_ca.sql'), seedFile];
    expect(report.seeded).toBe(files.join(', '));
    expect(progress.filter((m) => m.startsWith('applying seed'))).toEqual(files.map((f) => `applying seed ${f}`));
    expect(progress).toContain(`no seed file matches ./nothing/*.sql (in ${dir})`);
    const names = await db.query<{ name: string }>('select name from countries order by code');
    expect(names.rows.map((r) => r.name)).toEqual(['Canada (2)', 'United States (2)']);
  });

  test('[db.seed] enabled = false: nothing is applied, and the seed is not due any more', async () => {
    await fs.writeFile(seedFile, `insert into countries values ('US', 'United States');\n`);
    expect((await run({ enabled: false })).seeded).toBeUndefined();
    expect(await count('countries')).toBe(0);
    expect((await run()).seeded).toBeUndefined();
    expect(await count('countries')).toBe(0);
  });
});
