import { describe, expect, test } from 'vitest';
import { classify } from '../../src/import/pg-dump-classify.js';
import { decide, type PlanContext } from '../../src/import/pg-dump-plan.js';
import { DumpReader, copyFields, type DumpItem } from '../../src/import/pg-dump-reader.js';
import { connectTarget, insertRows, retarget } from '../../src/import/pg-dump-rewrite.js';
import { looksLikePgDump, refuseFormat } from '../../src/import/pg-dump-source.js';

function read(text: string): { items: DumpItem[]; open: string | undefined } {
  const reader = new DumpReader();
  const items: DumpItem[] = [];
  text.split('\n').forEach((line, i) => items.push(...reader.feed(line, i + 1)));
  const end = reader.end();
  return { items: [...items, ...end.items], open: end.open };
}

const shapes = (text: string) =>
  read(text).items.map((i) =>
    i.kind === 'meta'
      ? `meta:${i.command} ${i.argument}`
      : i.kind === 'copy-end'
        ? 'end'
        : `${i.kind}@${i.line}:${i.text}`,
  );

describe('DumpReader', () => {
  test.each([
    ['two statements', 'SET a = 1;\nSET b = 2;', ['statement@1:SET a = 1', 'statement@2:SET b = 2']],
    ['two on one line', 'SET a = 1; SET b = 2;', ['statement@1:SET a = 1', 'statement@1:SET b = 2']],
    ['a semicolon in a string', "SELECT 'a;b';", ["statement@1:SELECT 'a;b'"]],
    ['a doubled quote', "SELECT 'it''s; fine';", ["statement@1:SELECT 'it''s; fine'"]],
    ["an E string with \\'", "SELECT E'\\';x';", ["statement@1:SELECT E'\\';x'"]],
    ['a quoted identifier', 'CREATE TABLE "a;b" (x int);', ['statement@1:CREATE TABLE "a;b" (x int)']],
    [
      'a dollar-quoted body over lines',
      'CREATE FUNCTION f() RETURNS int\n    LANGUAGE sql\n    AS $_$ select 1; $_$;\nSET x = 1;',
      [
        'statement@1:CREATE FUNCTION f() RETURNS int\n    LANGUAGE sql\n    AS $_$ select 1; $_$',
        'statement@4:SET x = 1',
      ],
    ],
    [
      'nested dollar tags',
      'DO $outer$ begin perform $$;$$; end $outer$;',
      ['statement@1:DO $outer$ begin perform $$;$$; end $outer$'],
    ],
    [
      'pg_dump comment headers are not statements',
      '--\n-- Name: t; Type: TABLE; Schema: public; Owner: postgres\n--\n\nCREATE TABLE t (id int);',
      ['statement@5:CREATE TABLE t (id int)'],
    ],
    ['a block comment with a semicolon', '/* a; /* nested; */ b; */ SELECT 1;', ['statement@1:SELECT 1']],
    [
      'BEGIN ATOMIC bodies',
      'CREATE FUNCTION f(n int) RETURNS int\n    LANGUAGE sql\n    BEGIN ATOMIC\n SELECT CASE WHEN n > 0 THEN 1 END;\nEND;',
      [
        'statement@1:CREATE FUNCTION f(n int) RETURNS int\n    LANGUAGE sql\n    BEGIN ATOMIC\n SELECT CASE WHEN n > 0 THEN 1 END;\nEND',
      ],
    ],
    [
      'psql meta-commands',
      '\\restrict abc123\n\\connect postgres\nSELECT 1;\n\\unrestrict abc123',
      ['meta:restrict abc123', 'meta:connect postgres', 'statement@3:SELECT 1', 'meta:unrestrict abc123'],
    ],
  ])('%s', (_name, text, expected) => {
    expect(shapes(text)).toEqual(expected);
  });

  test('COPY data lines pass as they are, tabs, backslashes and \\N included, up to \\.', () => {
    const dump = [
      'COPY public.notes (id, body, extra) FROM stdin;',
      '1\ttab\\there\t\\N',
      '2\tback\\\\slash; -- not a comment\t{"a":1}',
      '3\tSELECT 1;\t\\.x',
      '\\.',
      'SELECT 2;',
    ].join('\n');
    expect(read(dump).items).toEqual([
      { kind: 'copy', text: 'COPY public.notes (id, body, extra) FROM stdin', line: 1 },
      { kind: 'data', text: '1\ttab\\there\t\\N', line: 2 },
      { kind: 'data', text: '2\tback\\\\slash; -- not a comment\t{"a":1}', line: 3 },
      { kind: 'data', text: '3\tSELECT 1;\t\\.x', line: 4 },
      { kind: 'copy-end', line: 5 },
      { kind: 'statement', text: 'SELECT 2', line: 6 },
    ]);
  });

  test('a COPY block without its \\. is reported open (a truncated dump)', () => {
    const result = read('COPY public.t (a) FROM stdin;\n1\n2');
    expect(result.open).toBe('copy');
  });

  test('a dump ending inside a string is reported open', () => {
    expect(read("SELECT 'unterminated;\n").open).toBe('quote');
  });
});

test.each([
  ['a\tb', ['a', 'b']],
  ['\\\\N\t\\N', ['\\N', null]],
  ['tab\\there\tnew\\nline', ['tab\there', 'new\nline']],
  ['back\\\\slash', ['back\\slash']],
  ['oct\\101 hex\\x41', ['octA hexA']],
  ['', ['']],
])('copyFields(%j)', (line, fields) => {
  expect(copyFields(line)).toEqual(fields);
});

describe('dump formats', () => {
  test.each([
    ['PGDMP\u0001\u000e\u0000', /custom-format archive.*pg_restore -f dump\.sql/],
    ['\u0000\u0000binary', /binary file/],
  ])('refuses %j', (head, message) => {
    expect(refuseFormat(Buffer.from(head, 'latin1'), 'x.dump')).toMatch(message);
  });

  test('refuses a tar archive (pg_dump -Ft)', () => {
    const tar = Buffer.alloc(512);
    tar.write('toc.dat', 0);
    tar.write('ustar', 257);
    expect(refuseFormat(tar, 'x.tar')).toMatch(/tar archive/);
  });

  test.each([
    ['--\n-- PostgreSQL database dump\n--\n', true],
    ['SET statement_timeout = 0;\nSET lock_timeout = 0;\n', true],
    ['\\restrict 0123\n\nSET statement_timeout = 0;', true],
    ['SET session_replication_role = replica;\n', true],
    ['PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n', false],
    ['CREATE TABLE t (id integer);', false],
  ])('looksLikePgDump(%j) = %s', (head, expected) => {
    expect(looksLikePgDump(head)).toBe(expected);
  });
});

const ctx: PlanContext = {
  roles: new Set(['postgres', 'anon', 'authenticated', 'service_role']),
  extensions: new Set(['pgcrypto', 'uuid-ossp', 'pg_stat_statements']),
  settings: new Set([
    'statement_timeout',
    'lock_timeout',
    'search_path',
    'session_replication_role',
    'client_encoding',
  ]),
  currentUser: 'postgres',
};

const plan = (sql: string) => {
  const d = decide(classify(sql), ctx);
  return d.action === 'skip' || d.action === 'skip-data' ? `${d.action}: ${d.reason}` : d.action;
};

describe('what each statement of a Supabase dump becomes', () => {
  test.each([
    ['CREATE TABLE public.notes (id bigint)', 'run'],
    ['CREATE TABLE "public"."Notes" ("id" bigint)', 'run'],
    ['CREATE TABLE auth.users (id uuid)', "skip: schema auth is Trellis's own"],
    ['CREATE TABLE "storage"."objects" ("id" uuid)', "skip: schema storage is Trellis's own"],
    ['CREATE FUNCTION graphql.resolve() RETURNS jsonb AS $$ select 1 $$', /skip: schema graphql belongs to Supabase/],
    ['CREATE SCHEMA vault', /skip: schema vault belongs to Supabase/],
    ['CREATE SCHEMA app AUTHORIZATION supabase_admin', 'run'],
    ['CREATE ROLE supabase_admin', /skip: roles are the server's/],
    ["ALTER ROLE authenticator SET statement_timeout TO '8s'", /skip: roles are the server's/],
    ['GRANT supabase_auth_admin TO postgres', /skip: roles are the server's/],
    ['ALTER TABLE public.notes OWNER TO supabase_admin', /skip: owner → postgres/],
    ['ALTER FUNCTION public.f(integer) OWNER TO "postgres"', /skip: owner → postgres/],
    [
      'ALTER TABLE ONLY public.notes ADD CONSTRAINT notes_owner_fkey FOREIGN KEY (owner) REFERENCES auth.users(id)',
      'run',
    ],
    ['ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY', 'run'],
    ['ALTER TABLE storage.objects ENABLE ROW LEVEL SECURITY', /skip: row level security on Trellis/],
    ['CREATE POLICY "own" ON storage.objects FOR SELECT TO authenticated USING ((bucket_id = \'a\'))', 'run'],
    ['CREATE POLICY "p" ON auth.users USING (true)', "skip: schema auth is Trellis's own"],
    [
      'CREATE POLICY "p" ON public.notes TO supabase_admin USING (true)',
      'skip: names roles this server lacks: supabase_admin',
    ],
    ['CREATE POLICY "p" ON public.notes FOR SELECT USING ((owner = ( SELECT auth.uid() AS uid)))', 'run'],
    [
      'CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.handle_new_user()',
      'run',
    ],
    [
      'CREATE TRIGGER t BEFORE UPDATE ON storage.objects FOR EACH ROW EXECUTE FUNCTION storage.update_updated_at()',
      "skip: schema storage is Trellis's own",
    ],
    [
      'CREATE EVENT TRIGGER issue_pg_graphql_access ON ddl_command_end EXECUTE FUNCTION extensions.grant_pg_graphql_access()',
      /skip: Supabase's own event trigger/,
    ],
    ['CREATE EVENT TRIGGER audit ON ddl_command_end EXECUTE FUNCTION public.audit_ddl()', 'try'],
    [
      'CREATE EXTENSION IF NOT EXISTS pg_graphql WITH SCHEMA graphql',
      'skip: extension pg_graphql is not available on this server',
    ],
    ['CREATE EXTENSION IF NOT EXISTS "pgcrypto" WITH SCHEMA "extensions"', 'try'],
    ["COMMENT ON EXTENSION pgcrypto IS 'cryptographic functions'", /skip: extensions are created/],
    [
      "CREATE PUBLICATION supabase_realtime WITH (publish = 'insert, update, delete, truncate')",
      /skip: Trellis has its own/,
    ],
    ['ALTER PUBLICATION supabase_realtime ADD TABLE ONLY public.notes', 'try'],
    ['ALTER PUBLICATION supabase_realtime ADD TABLE ONLY realtime.messages', /skip: realtime\.messages: Trellis's own/],
    ['GRANT ALL ON TABLE public.notes TO anon', 'run'],
    ['GRANT ALL ON TABLE "public"."notes" TO "supabase_admin"', 'skip: names roles this server lacks: supabase_admin'],
    ['GRANT USAGE ON SCHEMA auth TO anon', "skip: schema auth is Trellis's own"],
    ['REVOKE ALL ON FUNCTION public.f() FROM PUBLIC', 'run'],
    [
      'ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON TABLES TO anon',
      /skip: names roles this server lacks: supabase_admin/,
    ],
    ['ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES TO anon', 'try'],
    ['SET transaction_timeout = 0', 'skip: setting transaction_timeout is unknown to this PostgreSQL server'],
    ['SET statement_timeout = 0', 'try'],
    ["SET client_encoding = 'LATIN1'", /skip: not UTF8/],
    ["SELECT pg_catalog.set_config('search_path', '', false)", 'run'],
    ["SELECT pg_catalog.setval('public.notes_id_seq', 4, true)", 'run'],
    ['SELECT pg_catalog.setval(\'"auth"."refresh_tokens_id_seq"\', 9, true)', /skip: a sequence of schema auth/],
    ['COPY auth.users (instance_id, id, email) FROM stdin', 'stage'],
    ['COPY "auth"."identities" ("provider_id", "user_id") FROM stdin', 'stage'],
    ['COPY auth.sessions (id) FROM stdin', /skip-data: sessions, tokens and logs/],
    ['COPY supabase_migrations.schema_migrations (version) FROM stdin', 'stage'],
    ['INSERT INTO "storage"."objects" ("id", "name") VALUES (\'a\', \'b\')', 'stage'],
    ['INSERT INTO public.notes (id) VALUES (1)', 'run'],
    ["SECURITY LABEL FOR pgsodium ON COLUMN public.t.c IS 'ENCRYPT'", /skip: security labels/],
    ['CREATE DATABASE postgres WITH TEMPLATE = template0', /skip: the import goes into the connected database/],
    ['BEGIN', /skip: the whole import is one transaction/],
    ['DROP TRIGGER IF EXISTS "on_auth_user_created" ON "auth"."users"', "skip: schema auth is Trellis's own"],
    ['DROP PUBLICATION IF EXISTS "supabase_realtime"', 'skip: Trellis has its own supabase_realtime publication'],
    ['DROP EXTENSION IF EXISTS "pgcrypto"', /skip: extensions are the server/],
    ['DROP SCHEMA IF EXISTS "public"', /skip: schema public keeps/],
    ['DROP TABLE IF EXISTS "public"."notes"', 'run'],
    ['DROP INDEX IF EXISTS "storage"."bname"', "skip: schema storage is Trellis's own"],
    ['ALTER EVENT TRIGGER "pgrst_ddl_watch" OWNER TO "supabase_admin"', /skip: owner → postgres/],
    [
      'ALTER PUBLICATION "supabase_realtime_messages_publication" ADD TABLE ONLY "realtime"."messages"',
      /skip: Supabase Realtime’s own/,
    ],
  ])('%s → %s', (sql, expected) => {
    if (typeof expected === 'string') expect(plan(sql)).toBe(expected);
    else expect(plan(sql)).toMatch(expected);
  });

  test('COPY and INSERT name their table and columns, quoted or not', () => {
    expect(classify('COPY "public"."My ""Table""" ("id", "Body") FROM stdin')).toMatchObject({
      kind: 'COPY',
      target: { schema: 'public', name: 'My "Table"' },
      columns: ['id', 'Body'],
    });
    expect(classify('INSERT INTO auth.users (id, email) VALUES (1, 2)')).toMatchObject({
      target: { schema: 'auth', name: 'users' },
      columns: ['id', 'email'],
    });
  });
});

describe('executor text helpers', () => {
  test.each([
    ['postgres', 'postgres'],
    ['"My DB"', 'My DB'],
    ['-reuse-previous=on "dbname=\'app\'"', 'app'],
    ["-reuse-previous=on \"dbname='it\\'s'\"", "it's"],
    ['-reuse-previous=on "dbname=plain"', 'plain'],
  ])('\\connect %s names %j', (argument, db) => {
    expect(connectTarget(argument)).toBe(db);
  });

  test.each([
    ['INSERT INTO public.t (a) VALUES (1)', 1],
    ['INSERT INTO "public"."t" ("a") VALUES\n\t(1),\n\t(2),\n\t(3)', 3],
  ])('insertRows(%j) = %i', (sql, rows) => {
    expect(insertRows(sql)).toBe(rows);
  });

  test('an INSERT into auth.users is pointed at its stage, values untouched', () => {
    expect(retarget('INSERT INTO "auth"."users" ("id") VALUES (\'auth.users\')', 'pg_temp."s"')).toBe(
      'INSERT INTO pg_temp."s" ("id") VALUES (\'auth.users\')',
    );
  });
});
