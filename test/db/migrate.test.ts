import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isMigrated, migrate, readMigrationFiles } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/pool.js';
import { providedExtension } from '../../src/db/provided-extensions.js';
import { FatalError } from '../../src/errors.js';
import { freshDatabase, testDb, type TestDatabase } from '../helpers/db.js';

let database: TestDatabase;
let db: Db;
let dir: string;
const quiet = { dryRun: false, onProgress: () => undefined };

beforeAll(async () => {
  database = await freshDatabase();
  db = testDb(database.url);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-migrations-'));
});

afterAll(async () => {
  await db.close();
  await database.drop();
  await fs.rm(dir, { recursive: true, force: true });
});

const write = (name: string, sql: string) => fs.writeFile(path.join(dir, name), sql);
const scalar = async (sql: string) => Object.values((await db.query(sql)).rows[0] ?? {})[0];

describe('Trellis schema', () => {
  beforeAll(() => migrate(db, dir, quiet));

  test('creates Supabase schemas, roles and the realtime publication', async () => {
    const schemas = (
      await db.query(`select nspname from pg_namespace where nspname in ('auth','storage','realtime','extensions')`)
    ).rows;
    expect(schemas.map((r) => r.nspname).sort()).toEqual(['auth', 'extensions', 'realtime', 'storage']);
    const roles = (
      await db.query(
        `select rolname, rolbypassrls, rolcanlogin from pg_roles where rolname in ('anon','authenticated','service_role','authenticator') order by rolname`,
      )
    ).rows;
    expect(roles).toEqual([
      { rolname: 'anon', rolbypassrls: false, rolcanlogin: false },
      { rolname: 'authenticated', rolbypassrls: false, rolcanlogin: false },
      { rolname: 'authenticator', rolbypassrls: false, rolcanlogin: true },
      { rolname: 'service_role', rolbypassrls: true, rolcanlogin: false },
    ]);
    expect(await scalar(`select count(*)::int from pg_publication where pubname = 'supabase_realtime'`)).toBe(1);
  });

  test('is recorded by version and applying it again changes nothing', async () => {
    const before = (await db.query('select version, applied_at from trellis.schema_versions order by version')).rows;
    const files = (await fs.readdir(new URL('../../src/sql/', import.meta.url)))
      .filter((f) => f.endsWith('.sql'))
      .sort();
    expect(before.map((r) => r.version)).toEqual(files.map((f) => f.split('_')[0]));
    await migrate(db, dir, quiet);
    expect((await db.query('select version, applied_at from trellis.schema_versions order by version')).rows).toEqual(
      before,
    );
  });

  test('a table created in public is granted to the API roles, as on Supabase', async () => {
    await db.query('create table public.granted_probe (id int)');
    const privileges = await scalar(
      `select string_agg(distinct grantee, ',' order by grantee) from information_schema.role_table_grants where table_name = 'granted_probe' and privilege_type = 'SELECT'`,
    );
    expect(privileges).toContain('anon');
    expect(privileges).toContain('authenticated');
    expect(privileges).toContain('service_role');
  });
});

describe('project migrations', () => {
  test('apply in file-name order, once, recorded where the Supabase CLI records them', async () => {
    await write('20240102000000_second.sql', `insert into notes (body) values ('second');`);
    await write(
      '20240101000000_first.sql',
      `create table notes (id serial primary key, body text not null);\ninsert into notes (body) values ('first');`,
    );
    await write('README.md', 'not a migration');
    expect((await migrate(db, dir, quiet)).applied.map((m) => m.version)).toEqual(['20240101000000', '20240102000000']);
    expect((await migrate(db, dir, quiet)).applied).toEqual([]);
    expect((await db.query('select body from notes order by id')).rows).toEqual([
      { body: 'first' },
      { body: 'second' },
    ]);
    const recorded = (
      await db.query('select version, name, statements from supabase_migrations.schema_migrations order by version')
    ).rows;
    expect(recorded[0]).toEqual({
      version: '20240101000000',
      name: 'first',
      statements: [
        'create table notes (id serial primary key, body text not null)',
        "insert into notes (body) values ('first')",
      ],
    });
    expect(await isMigrated(db, dir)).toBe(true);
  });

  test('a dry run lists pending files and applies nothing', async () => {
    await write('20240103000000_third.sql', 'create table third (id int);');
    expect(await isMigrated(db, dir)).toBe(false);
    const report = await migrate(db, dir, { ...quiet, dryRun: true });
    expect(report.pending.map((m) => m.name)).toEqual(['third']);
    expect(await scalar(`select to_regclass('public.third')::text`)).toBeNull();
    await migrate(db, dir, quiet);
    expect(await scalar(`select to_regclass('public.third')::text`)).toBe('third');
  });

  test('a failing file names its line and leaves the database as before that file', async () => {
    await write(
      '20240104000000_broken.sql',
      'create table half (id int);\n\n-- the next statement is wrong\ninsert into half values (1);\nselect * fromm half;\n',
    );
    const error = await migrate(db, dir, quiet).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(FatalError);
    expect((error as Error).message).toMatch(
      /20240104000000_broken\.sql failed at line 5: syntax error at or near "fromm"/,
    );
    expect(await scalar(`select to_regclass('public.half')::text`)).toBeNull();
    expect(
      await scalar(`select count(*)::int from supabase_migrations.schema_migrations where version = '20240104000000'`),
    ).toBe(0);
    await fs.rm(path.join(dir, '20240104000000_broken.sql'));
  });

  test('a runtime error is reported at the line of the statement that raised it', async () => {
    await write(
      '20240105000000_runtime.sql',
      'create table r (id int primary key);\ninsert into r values (1);\n\ninsert into r\n  values (1);\n',
    );
    await expect(migrate(db, dir, quiet)).rejects.toThrow(
      /20240105000000_runtime\.sql failed at line 4: duplicate key value/,
    );
    await fs.rm(path.join(dir, '20240105000000_runtime.sql'));
  });

  test('instances migrating at the same moment apply each file exactly once', async () => {
    await write('20240106000000_counted.sql', `insert into notes (body) values ('counted');`);
    const others = [testDb(database.url), testDb(database.url), testDb(database.url)];
    try {
      const reports = await Promise.all(others.map((other) => migrate(other, dir, quiet)));
      expect(reports.map((r) => r.applied.length).sort()).toEqual([0, 0, 1]);
    } finally {
      await Promise.all(others.map((other) => other.close()));
    }
    expect(await scalar(`select count(*)::int from notes where body = 'counted'`)).toBe(1);
  });

  test('file names that are not <version>_<name>.sql are skipped with a message; duplicate versions are refused', async () => {
    const skipped: string[] = [];
    await write('notes.sql', 'select 1;');
    await readMigrationFiles(dir, (m) => skipped.push(m));
    expect(skipped).toEqual(["skipping notes.sql: a migration's name must look like <timestamp>_<name>.sql"]);
    await write('20240101000000_again.sql', 'select 1;');
    await expect(readMigrationFiles(dir, () => undefined)).rejects.toThrow(/same version 20240101000000/);
    await fs.rm(path.join(dir, '20240101000000_again.sql'));
    await fs.rm(path.join(dir, 'notes.sql'));
  });

  test('a Supabase project’s create extension of pg_cron, pgmq or pg_net is skipped with a note: Trellis provides them', async () => {
    await write(
      '20240199000000_extensions.sql',
      [
        'create extension if not exists "pg_cron" with schema "pg_catalog";',
        'CREATE EXTENSION pgmq;',
        'create extension if not exists pg_net with schema extensions cascade;',
        'create table after_extensions (id int);',
      ].join('\n'),
    );
    const notes: string[] = [];
    await migrate(db, dir, { ...quiet, onProgress: (m) => notes.push(m) });
    expect(await scalar(`select to_regclass('public.after_extensions')::text`)).toBe('after_extensions');
    expect(notes.filter((n) => n.includes('skipped'))).toEqual([
      '20240199000000_extensions.sql line 1: create extension pg_cron skipped: Trellis provides its SQL surface itself (docs/cron.md)',
      '20240199000000_extensions.sql line 2: create extension pgmq skipped: Trellis provides its SQL surface itself (docs/queues.md)',
      '20240199000000_extensions.sql line 3: create extension pg_net skipped: Trellis provides its SQL surface itself (docs/webhooks.md)',
    ]);
  });

  test.each([
    ['create extension if not exists pg_cron', 'pg_cron'],
    ['create extension "pgmq" with schema pgmq', 'pgmq'],
    ['  CREATE   EXTENSION  IF NOT EXISTS  PG_NET', 'pg_net'],
    ['create extension pgcrypto', undefined],
    ['create extension "PG_NET"', undefined],
    ['create extension pg_cronx', undefined],
    ["select 'create extension pg_cron'", undefined],
  ])('providedExtension(%j) is %j', (statement, expected) => {
    expect(providedExtension(statement)).toBe(expected);
  });

  test('a missing migrations folder means no migrations', async () => {
    expect(await readMigrationFiles(path.join(dir, 'nope'), () => undefined)).toEqual([]);
  });

  test('a file wrapped in BEGIN … COMMIT runs as one transaction', async () => {
    await write('20240107000000_wrapped.sql', 'begin;\ncreate table wrapped (id int);\ncommit;\n');
    await migrate(db, dir, quiet);
    expect(await scalar(`select to_regclass('public.wrapped')::text`)).toBe('wrapped');
  });

  test.each([
    ['commit', 'create table c1 (id int);\ncommit;\ncreate table c2 (id int);\nselect 1;', 2, 'COMMIT'],
    ['rollback', 'create table r1 (id int);\nbegin;\ninsert into r1 values (1);\nrollback;\nselect 1;', 2, 'BEGIN'],
  ])(
    'transaction control inside a file (%s) is refused with its line, and nothing runs',
    async (_, sql, line, word) => {
      await write('20240108000000_control.sql', sql);
      await expect(migrate(db, dir, quiet)).rejects.toThrow(
        new RegExp(`20240108000000_control\\.sql line ${line}: ${word} is not allowed`),
      );
      expect(await scalar(`select count(*)::int from pg_tables where tablename in ('c1', 'c2', 'r1')`)).toBe(0);
      await fs.rm(path.join(dir, '20240108000000_control.sql'));
    },
  );

  test('SET commands in a file do not leak into the pool that serves requests', async () => {
    await write(
      '20240109000000_settings.sql',
      `select set_config('search_path', '', false);\nset row_security = off;\nset role authenticated;\n`,
    );
    await migrate(db, dir, quiet);
    for (let i = 0; i < 6; i++) {
      const row = (
        await db.query(
          `select current_setting('search_path') as sp, current_setting('row_security') as rs, current_user as who`,
        )
      ).rows[0];
      expect(row?.sp).not.toBe('');
      expect(row?.rs).toBe('on');
      expect(row?.who).not.toBe('authenticated');
    }
  });

  test('an error after non-BMP characters names the right line', async () => {
    await write('20240110000000_emoji.sql', `select '${'😀'.repeat(24)}'\n  , 1\n  , 2\n  , nosuchcolumn;\n`);
    await expect(migrate(db, dir, quiet)).rejects.toThrow(
      /20240110000000_emoji\.sql failed at line 4: column "nosuchcolumn" does not exist/,
    );
    await fs.rm(path.join(dir, '20240110000000_emoji.sql'));
  });

  test('SQL-standard function bodies (BEGIN ATOMIC) apply', async () => {
    await write(
      '20240111000000_atomic.sql',
      `create function add_one(x int) returns int language sql\nbegin atomic\n  select x + 1;\nend;\nselect add_one(1);\n`,
    );
    await migrate(db, dir, quiet);
    expect(await scalar('select add_one(41)')).toBe(42);
  });

  test('a *.sql entry that cannot be read is a clear error', async () => {
    await fs.mkdir(path.join(dir, '20240112000000_folder.sql'));
    await expect(migrate(db, dir, quiet)).rejects.toThrow(FatalError);
    await expect(migrate(db, dir, quiet)).rejects.toThrow(/cannot read migration .*20240112000000_folder\.sql/);
    await fs.rm(path.join(dir, '20240112000000_folder.sql'), { recursive: true });
  });

  test('an instance waits for another one holding the migration lock, beyond the statement timeout', async () => {
    const impatient = testDb(database.url, { statementTimeoutMs: 300 });
    const holder = testDb(database.url);
    try {
      await holder.withConnection(async (client) => {
        await client.query('select pg_advisory_lock(32772479246854515)');
        const waiting = migrate(impatient, dir, quiet);
        await new Promise((r) => setTimeout(r, 800));
        await client.query('select pg_advisory_unlock(32772479246854515)');
        await waiting;
      });
    } finally {
      await impatient.close();
      await holder.close();
    }
  });

  test('a signal while waiting for the lock ends the wait', async () => {
    const holder = testDb(database.url);
    const abort = new AbortController();
    try {
      await holder.withConnection(async (client) => {
        await client.query('select pg_advisory_lock(32772479246854515)');
        setTimeout(() => abort.abort('SIGTERM'), 300);
        const started = Date.now();
        await expect(migrate(db, dir, { ...quiet, abort: abort.signal })).rejects.toThrow(/stopped by SIGTERM/);
        expect(Date.now() - started).toBeLessThan(2000);
        await client.query('select pg_advisory_unlock(32772479246854515)');
      });
    } finally {
      await holder.close();
    }
  });

  test('a signal during a long migration cancels it and rolls the file back', async () => {
    await write('20240113000000_slow.sql', 'create table slow_one (id int);\nselect pg_sleep(30);\n');
    const abort = new AbortController();
    setTimeout(() => abort.abort('SIGTERM'), 500);
    const started = Date.now();
    await expect(migrate(db, dir, { ...quiet, abort: abort.signal })).rejects.toThrow(/stopped by SIGTERM/);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await scalar(`select to_regclass('public.slow_one')::text`)).toBeNull();
    await fs.rm(path.join(dir, '20240113000000_slow.sql'));
  });
});

describe('a dry run', () => {
  test('on a fresh database reads only: no schema, no tables, everything reported pending', async () => {
    const fresh = await freshDatabase();
    const freshDb = testDb(fresh.url);
    try {
      const report = await migrate(freshDb, dir, { ...quiet, dryRun: true });
      expect(report.schemaPending).toBeGreaterThan(0);
      expect(report.pending.length).toBeGreaterThan(0);
      const schemas = await freshDb.query(
        `select nspname from pg_namespace where nspname in ('trellis', 'auth', 'supabase_migrations')`,
      );
      expect(schemas.rowCount).toBe(0);
    } finally {
      await freshDb.close();
      await fresh.drop();
    }
  });
});

describe('a first start', () => {
  test('a first migration using uuid_generate_v4() and crypt() applies on a new database, as on Supabase', async () => {
    const fresh = await freshDatabase();
    const freshDb = testDb(fresh.url);
    const folder = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-first-start-'));
    try {
      await fs.writeFile(
        path.join(folder, '20240101000000_items.sql'),
        `create table public.items (id uuid primary key default uuid_generate_v4(), secret text default crypt('x', gen_salt('bf')));
         insert into public.items default values;`,
      );
      const report = await migrate(freshDb, folder, quiet);
      expect(report.applied.map((m) => path.basename(m.file))).toEqual(['20240101000000_items.sql']);
      const row = (
        await freshDb.query<{ id: string; ok: boolean }>(
          `select id::text, secret = crypt('x', secret) as ok from public.items`,
        )
      ).rows[0];
      expect(row?.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(row?.ok).toBe(true);
    } finally {
      await freshDb.close();
      await fresh.drop();
      await fs.rm(folder, { recursive: true, force: true });
    }
  });
});
