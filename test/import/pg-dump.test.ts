/**
 * importPgDump against the real PostgreSQL with Trellis's schema applied: the noise of a
 * whole-database Supabase dump (roles, owners, unavailable extensions, event triggers, psql
 * meta-commands, settings this server lacks) is skipped or mapped and reported; bad input fails
 * with the dump line named and nothing left behind.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { FatalError } from '../../src/errors.js';
import { importPgDump, isPgDumpFile, renderPgDumpReport, type PgDumpReport } from '../../src/import/index.js';
import { freshDatabase, testDb, type TestDatabase } from '../helpers/db.js';

let database: TestDatabase;
let sql: pg.Pool;
let dir: string;

beforeAll(async () => {
  database = await freshDatabase();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-pgdump-unit-'));
  const db = testDb(database.url);
  await migrate(db, path.join(dir, 'no-migrations'), { dryRun: false, onProgress: () => undefined });
  await db.close();
  sql = new pg.Pool({ connectionString: database.url, max: 2 });
}, 60_000);

afterAll(async () => {
  await sql.end();
  await database.drop();
  await fs.rm(dir, { recursive: true, force: true });
});

const silent = () => ({ tick: () => undefined, done: () => undefined, fail: () => undefined });

async function run(
  name: string,
  content: string | Buffer,
  dryRun = false,
  migrationsDir?: string,
): Promise<PgDumpReport> {
  const file = path.join(dir, name);
  await fs.writeFile(file, content);
  return importPgDump({ file, dbUrl: database.url, dryRun, log: () => undefined, progress: silent, migrationsDir });
}

async function failure(name: string, content: string | Buffer): Promise<string> {
  const err = await run(name, content).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FatalError);
  return (err as Error).message;
}

const exists = async (table: string) =>
  (await sql.query<{ found: boolean }>('select to_regclass($1) is not null as found', [table])).rows[0]?.found === true;

const NOISE = `--
-- PostgreSQL database dump
--

\\restrict Qm3nFVZ8y1fJbqDpeg

SET statement_timeout = 0;
SET lock_timeout = 0;
SET transaction_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET row_security = off;

DROP EVENT TRIGGER IF EXISTS "pgrst_ddl_watch";
DROP PUBLICATION IF EXISTS "supabase_realtime";
DROP POLICY IF EXISTS "own avatars" ON "storage"."objects";
ALTER TABLE IF EXISTS ONLY "auth"."identities" DROP CONSTRAINT IF EXISTS "identities_user_id_fkey";
DROP TRIGGER IF EXISTS "on_auth_user_created" ON "auth"."users";
DROP INDEX IF EXISTS "auth"."users_email_partial_key";
DROP TABLE IF EXISTS "app"."items";
DROP EXTENSION IF EXISTS "pgcrypto";
DROP SCHEMA IF EXISTS "auth";
DROP SCHEMA IF EXISTS "public";
DROP SCHEMA IF EXISTS "app";

CREATE ROLE supabase_admin;
ALTER ROLE supabase_admin WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS;
CREATE SCHEMA graphql;
ALTER SCHEMA graphql OWNER TO supabase_admin;
CREATE EXTENSION IF NOT EXISTS pg_graphql WITH SCHEMA graphql;
COMMENT ON EXTENSION pg_graphql IS 'pg_graphql: GraphQL support';
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA gone;
CREATE FUNCTION extensions.grant_pg_graphql_access() RETURNS event_trigger
    LANGUAGE plpgsql
    AS $_$
BEGIN
    -- a semicolon; in a body
    NULL;
END;
$_$;
CREATE EVENT TRIGGER issue_pg_graphql_access ON ddl_command_end
         WHEN TAG IN ('CREATE EXTENSION')
   EXECUTE FUNCTION extensions.grant_pg_graphql_access();
ALTER EVENT TRIGGER issue_pg_graphql_access OWNER TO supabase_admin;

CREATE SCHEMA app;
ALTER SCHEMA app OWNER TO supabase_admin;
CREATE TABLE app.items (
    id integer NOT NULL,
    label text,
    "Weird; ""name""" text
);
ALTER TABLE app.items OWNER TO supabase_admin;
GRANT ALL ON TABLE app.items TO supabase_admin;
GRANT SELECT ON TABLE app.items TO anon;
CREATE PUBLICATION supabase_realtime WITH (publish = 'insert, update, delete, truncate');
ALTER PUBLICATION supabase_realtime OWNER TO supabase_admin;
ALTER PUBLICATION supabase_realtime ADD TABLE ONLY app.items;
CREATE PUBLICATION "supabase_realtime_messages_publication" WITH (publish = 'insert, update, delete, truncate');
ALTER PUBLICATION "supabase_realtime_messages_publication" ADD TABLE ONLY "realtime"."messages";

COPY app.items (id, label, "Weird; ""name""") FROM stdin;
1	one	\\N
2	tab\\there	back\\\\slash
\\.

CREATE TABLE auth.saml_providers (id uuid NOT NULL);
COPY auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) FROM stdin;
00000000-0000-0000-0000-000000000000	8a2c5b6e-8e4b-4f3e-9c51-3d1b1f0f2a11	{"action":"login"}	2024-01-01 00:00:00+00	
\\.

\\unrestrict Qm3nFVZ8y1fJbqDpeg
`;

describe('importPgDump on a whole-database dump', () => {
  test('--dry-run prints the plan and writes nothing', async () => {
    const report = await run('noise-dry.sql', NOISE, true);
    expect(await exists('app.items')).toBe(false);
    expect(report.dryRun).toBe(true);
    expect(report.tables).toEqual([
      { table: 'app.items', rows: 2, action: 'loaded' },
      expect.objectContaining({ table: 'auth.audit_log_entries', rows: 1, action: 'skipped' }),
    ]);
    expect(renderPgDumpReport(report)).toMatch(/^Plan for .*noise-dry\.sql/);
  });

  test("Supabase's roles, owners, extensions and event triggers are skipped or mapped, and said so", async () => {
    const report = await run('noise.sql', NOISE);
    const reasons = Object.fromEntries(report.skipped.map((g) => [g.reason, g.kinds]));
    expect(reasons).toMatchObject({
      'psql meta-commands of pg_dump 17.6+ (no effect on the import)': { '\\restrict': 1, '\\unrestrict': 1 },
      'setting transaction_timeout is unknown to this PostgreSQL server': { SET: 1 },
      "roles are the server's, not the dump's (Trellis has anon, authenticated, service_role)": {
        'CREATE ROLE': 1,
        'ALTER ROLE': 1,
      },
      'extension pg_graphql is not available on this server': { 'CREATE EXTENSION': 1 },
      "schema extensions is Trellis's own": { 'CREATE FUNCTION': 1 },
      "Supabase's own event trigger (its function is in extensions is Trellis's own)": { 'CREATE EVENT TRIGGER': 1 },
      'names roles this server lacks: supabase_admin': { GRANT: 1 },
      'owner → postgres (the connecting user owns what it creates)': {
        'ALTER SCHEMA': 1,
        'ALTER TABLE': 1,
        'ALTER PUBLICATION': 1,
      },
      'Trellis has its own supabase_realtime publication': { 'CREATE PUBLICATION': 1 },
    });
    expect(report.warnings.join('\n')).toMatch(/extension pg_graphql skipped .*graphql\/v1/);
    expect(report.warnings.join('\n')).toMatch(/table\(s\) without row level security: .*app\.items/);
    expect(report.kinds['CREATE EXTENSION']).toEqual({ run: 0, skipped: 1, mapped: 2 });
    const rows = await sql.query('select id, label, "Weird; ""name""" as weird from app.items order by id');
    expect(rows.rows).toEqual([
      { id: 1, label: 'one', weird: null },
      { id: 2, label: 'tab\there', weird: 'back\\slash' },
    ]);
    const owner = await sql.query<{ owner: string }>(
      "select tableowner as owner from pg_tables where schemaname = 'app' and tablename = 'items'",
    );
    expect(owner.rows[0]?.owner).toBe('postgres');
    const published = await sql.query(
      "select 1 from pg_publication_tables where pubname = 'supabase_realtime' and schemaname = 'app' and tablename = 'items'",
    );
    expect(published.rowCount).toBe(1);
    // uuid-ossp: in `extensions`, as the schema the dump named does not exist here.
    const ext = await sql.query<{ schema: string }>(
      "select n.nspname as schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace where extname = 'uuid-ossp'",
    );
    expect(ext.rows[0]?.schema).toBe('extensions');
    expect(await exists('graphql.x')).toBe(false);
    // pg_dump --clean's DROPs did not touch Trellis's own objects.
    expect(await exists('auth.users_email_partial_key')).toBe(true);
    const kept = await sql.query<{ n: number }>(
      `select (select count(*)::int from pg_constraint where conname = 'identities_user_id_fkey')
            + (select count(*)::int from pg_extension where extname = 'pgcrypto')
            + (select count(*)::int from pg_publication where pubname = 'supabase_realtime') as n`,
    );
    expect(kept.rows[0]?.n).toBe(3);
    expect((await sql.query("select 1 from pg_publication where pubname like 'supabase_realtime_%'")).rowCount).toBe(0);
    expect((await sql.query("select 1 from pg_roles where rolname = 'supabase_admin_never'")).rowCount).toBe(0);
  });

  test('migration history: the versions the project has files for are recorded, the others not', async () => {
    const migrations = path.join(dir, 'migrations');
    await fs.mkdir(migrations, { recursive: true });
    await fs.writeFile(
      path.join(migrations, '20240101000000_first.sql'),
      'create table public.from_migration (id int);',
    );
    const dump = [
      'COPY supabase_migrations.schema_migrations (version, statements, name) FROM stdin;',
      '20240101000000\t{"create table public.from_migration (id int)"}\tfirst',
      '20240202000000\t{}\tnot_in_the_project',
      '\\.',
    ].join('\n');
    const report = await run('history.sql', dump, false, migrations);
    expect(report.tables).toEqual([
      {
        table: 'supabase_migrations.schema_migrations',
        rows: 1,
        action: 'mapped',
        note: '1 without a file in supabase/migrations not recorded',
        droppedColumns: [],
      },
    ]);
    const { rows } = await sql.query(
      'select version, name from supabase_migrations.schema_migrations order by version',
    );
    expect(rows).toEqual([{ version: '20240101000000', name: 'first' }]);
  });

  test('a gzip’d dump is read decompressed', async () => {
    const dump = 'CREATE TABLE public.zipped (id int);\nCOPY public.zipped (id) FROM stdin;\n7\n\\.\n';
    const report = await run('zipped.sql.gz', zlib.gzipSync(dump));
    expect(report.tables).toEqual([{ table: 'public.zipped', rows: 1, action: 'loaded' }]);
  });

  test('a 5 MB value streams through COPY', async () => {
    const big = 'x'.repeat(5 * 1024 * 1024);
    await run('big.sql', `CREATE TABLE public.big (v text);\nCOPY public.big (v) FROM stdin;\n${big}\n\\.\n`);
    const { rows } = await sql.query<{ n: number }>('select length(v) as n from public.big');
    expect(rows[0]?.n).toBe(big.length);
  });
});

test('isPgDumpFile tells dumps from other sources (for the import command)', async () => {
  const write = async (name: string, body: string | Buffer) => {
    await fs.writeFile(path.join(dir, name), body);
    return path.join(dir, name);
  };
  expect(await isPgDumpFile(await write('a.sql', NOISE))).toBe(true);
  expect(await isPgDumpFile(await write('b.sql.gz', zlib.gzipSync('SET statement_timeout = 0;\n')))).toBe(true);
  expect(await isPgDumpFile(await write('c.dump', Buffer.from('PGDMP\u0001', 'latin1')))).toBe(true);
  expect(await isPgDumpFile(await write('d.sql', 'PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n'))).toBe(false);
  expect(await isPgDumpFile(await write('e.db', 'SQLite format 3\u0000'))).toBe(false);
  expect(await isPgDumpFile(path.join(dir, 'missing.sql'))).toBe(false);
});

describe('bad input: a clear message, nothing half-written', () => {
  test('a custom-format dump names pg_restore', async () => {
    expect(
      await failure('custom.dump', Buffer.from('PGDMP\u0001\u000e\u0000\u0004\u0008\u0001\u0001', 'latin1')),
    ).toMatch(/custom-format archive, not a plain SQL dump: convert it with `pg_restore -f dump\.sql/);
  });

  test('a truncated COPY block rolls back the statements before it', async () => {
    const message = await failure(
      'truncated.sql',
      'CREATE TABLE public.cut (id int);\nCOPY public.cut (id) FROM stdin;\n1\n2\n',
    );
    expect(message).toMatch(/the COPY of public\.cut at line 2 has no end line `\\\.` \(is the dump truncated\?\)/);
    expect(await exists('public.cut')).toBe(false);
  });

  test('a failing statement is named by its line, and everything before it is rolled back', async () => {
    const message = await failure(
      'failing.sql',
      'CREATE TABLE public.before_failure (id int);\n\n-- a comment\nSELECT public.no_such_function();\n',
    );
    expect(message).toMatch(
      /failing\.sql line 4: SELECT: function public\.no_such_function\(\) does not exist; nothing was imported/,
    );
    expect(await exists('public.before_failure')).toBe(false);
  });

  test('a bad COPY row is named by its dump line and table', async () => {
    const message = await failure(
      'badrow.sql',
      'CREATE TABLE public.numbers (n int);\nCOPY public.numbers (n) FROM stdin;\n1\nabc\n3\n\\.\n',
    );
    expect(message).toMatch(
      /badrow\.sql line 4 \(row 2 of public\.numbers\): invalid input syntax for type integer: "abc"/,
    );
    expect(await exists('public.numbers')).toBe(false);
  });

  test('a NUL byte is refused with its line', async () => {
    const message = await failure(
      'nul.sql',
      "CREATE TABLE public.nul (t text);\nINSERT INTO public.nul VALUES ('a\u0000b');\n",
    );
    expect(message).toMatch(/nul\.sql line 2: a NUL byte/);
    expect(await exists('public.nul')).toBe(false);
  });

  test('a dump ending inside a string is refused', async () => {
    expect(
      await failure('quote.sql', "CREATE TABLE public.q (t text);\nINSERT INTO public.q VALUES ('open;\n"),
    ).toMatch(/ends inside a quoted string/);
    expect(await exists('public.q')).toBe(false);
  });

  test('rows of auth.users that break Trellis’s constraints roll back the whole import', async () => {
    const dump = [
      'CREATE TABLE public.first (id int);',
      'COPY auth.users (id, email, encrypted_password) FROM stdin;',
      '3c0c4e9a-6f0e-4f55-9d5e-0d5b8b8d1a01\tsame@example.com\t$2a$10$abcdefghijklmnopqrstuv',
      '3c0c4e9a-6f0e-4f55-9d5e-0d5b8b8d1a02\tsame@example.com\t$2a$10$abcdefghijklmnopqrstuv',
      '\\.',
      'CREATE TABLE public.second (id int);',
    ].join('\n');
    expect(await failure('dupes.sql', dump)).toMatch(
      /loading the dump's auth\.users rows into Trellis's auth\.users: duplicate key/,
    );
    expect(await exists('public.first')).toBe(false);
  });
});
