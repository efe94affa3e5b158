/** `trellis db reset`, as `supabase db reset`: data dropped, migrations and seed.sql applied again. */
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { runCli, startCli, tempProject } from '../helpers/cli.js';

const MIGRATION = {
  '20240101000000_countries.sql': `create table countries (code text primary key, name text not null);\n`,
};
const SEED = `insert into countries values ('US', 'United States');\ninsert into countries values ('CA', 'Canada');\n`;

async function query(dbUrl: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    return (await client.query(sql)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}
const codes = async (dbUrl: string) =>
  (await query(dbUrl, 'select code from countries order by code')).map((r) => r.code);

async function dbUrlOf(dir: string): Promise<string> {
  const status = await runCli(['status', '--dir', dir, '-o', 'json']);
  return (JSON.parse(status.stdout) as { DB_URL: string }).DB_URL;
}

describe('trellis db reset on the embedded database', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempProject(MIGRATION);
    await fs.writeFile(path.join(dir, 'supabase', 'seed.sql'), SEED);
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  test('the first start seeds, a restart does not; reset is refused while the server runs', async () => {
    const server = await startCli(dir);
    try {
      const url = await dbUrlOf(dir);
      expect(await codes(url)).toEqual(['CA', 'US']);
      await query(url, `delete from countries where code = 'CA'; insert into countries values ('FR', 'France')`);
      const refused = await runCli(['db', 'reset', '--dir', dir]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^trellis: Trellis \(pid \d+\) is running on .*; stop it before resetting/);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      expect(await codes(url)).toEqual(['FR', 'US']);
    } finally {
      expect((await server.stop()).code).toBe(0);
    }
    const restarted = await startCli(dir);
    try {
      expect(await codes(await dbUrlOf(dir))).toEqual(['FR', 'US']);
    } finally {
      expect((await restarted.stop()).code).toBe(0);
    }
  });

  test('drops the data and applies the migrations and the seed again, a line per step', async () => {
    const reset = await runCli(['db', 'reset', '--dir', dir], {}, 60_000);
    expect(reset.stderr).toBe('');
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain('removing the embedded database');
    expect(reset.stdout).toContain('applying migration 1/1: 20240101000000_countries.sql');
    expect(reset.stdout).toContain(`applying seed ${path.join(dir, 'supabase', 'seed.sql')}`);
    expect(reset.stdout).toMatch(/database reset: 1 migration\(s\) applied, seed .* applied/);
    const server = await startCli(dir);
    try {
      expect(await codes(await dbUrlOf(dir))).toEqual(['CA', 'US']);
    } finally {
      expect((await server.stop()).code).toBe(0);
    }
  });
});

describe('trellis db reset with DATABASE_URL', () => {
  let database: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    database = await freshDatabase();
    dir = await tempProject(MIGRATION);
    await fs.writeFile(path.join(dir, 'supabase', 'seed.sql'), SEED);
  });
  afterAll(async () => {
    await database.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('says what it would drop and refuses without --yes; with --yes it resets', async () => {
    const env = { DATABASE_URL: database.url };
    expect((await runCli(['migrate', '--dir', dir], env)).code).toBe(0);
    expect(await codes(database.url)).toEqual(['CA', 'US']);
    await query(database.url, `insert into countries values ('FR', 'France'); create schema scratch`);

    const refused = await runCli(['db', 'reset', '--dir', dir], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^trellis: DATABASE_URL: this drops every schema of .*\(.*public.*scratch.*\).*--yes/,
    );
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(await codes(database.url)).toEqual(['CA', 'FR', 'US']);

    const reset = await runCli(['db', 'reset', '--dir', dir, '--yes'], env);
    expect(reset.stderr).toBe('');
    expect(reset.code).toBe(0);
    expect(reset.stdout).toMatch(/dropping schemas .*scratch/);
    expect(await codes(database.url)).toEqual(['CA', 'US']);
    expect(await query(database.url, `select 1 from pg_namespace where nspname = 'scratch'`)).toEqual([]);
  });
});
