/**
 * trellis.partition_by_month and trellis.run_partition_maintenance against a real PostgreSQL:
 * what a conversion keeps, what it refuses (leaving nothing made), the months it makes ahead, the
 * default partition draining, archiving, the advisory lock, and the server's timer.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startPartitionMaintenance } from '../../src/db/partitions.js';
import type { Db } from '../../src/db/pool.js';
import { createLogger } from '../../src/platform/logger.js';
import { freshDatabase, migrateOwnSchema, testDb, type TestDatabase } from '../helpers/db.js';
import { monthName } from '../helpers/months.js';

let database: TestDatabase;
let db: Db;
let sql: pg.Pool;

const one = async <T = unknown>(text: string, values?: unknown[]): Promise<T> =>
  Object.values((await sql.query(text, values)).rows[0] ?? {})[0] as T;

const children = async (parent: string): Promise<string[]> =>
  (
    await sql.query<{ name: string }>(
      `select inhrelid::regclass::text as name from pg_inherits where inhparent = $1::regclass order by 1`,
      [parent],
    )
  ).rows.map((r) => r.name);

/** Every relation's name and kind in public, archive and trellis: what a refused call must leave as it was. */
const catalogShape = async () =>
  (
    await sql.query(
      `select n.nspname, c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('public', 'archive') order by 1, 2`,
    )
  ).rows.concat((await sql.query('select parent::text from trellis.partitioned_tables order by 1')).rows);

beforeAll(async () => {
  database = await freshDatabase();
  db = testDb(database.url);
  await migrateOwnSchema(db);
  sql = new pg.Pool({ connectionString: database.url, max: 3 });
});

afterAll(async () => {
  await sql?.end();
  await db?.close();
  await database?.drop();
});

describe('converting a plain table', () => {
  beforeAll(async () => {
    await sql.query(`
      create table public.rooms (id bigint generated always as identity primary key, name text);
      create table public.messages (
        id bigint generated always as identity primary key,
        seq serial,
        room_id bigint references public.rooms (id) on delete cascade,
        body text not null check (length(body) < 100),
        shout text generated always as (upper(body)) stored,
        created_at timestamptz not null default now()
      );
      create index messages_room_created on public.messages (room_id, created_at desc);
      create unique index messages_body_at on public.messages (body, created_at);
      alter table public.messages add constraint messages_id_at unique (id, created_at);
      create table public.reactions (message_id bigint, message_at timestamptz, emoji text,
        constraint reactions_message_fkey foreign key (message_id, message_at)
          references public.messages (id, created_at) on delete cascade);
      alter table public.messages enable row level security;
      alter table public.messages replica identity full;
      create policy "readers" on public.messages for select to authenticated using (room_id = 1);
      create policy "no anon writes" on public.messages as restrictive for insert to anon with check (false);
      revoke all on public.messages from anon, authenticated;
      grant select on public.messages to anon;
      grant select, insert (room_id, body) on public.messages to authenticated;
      comment on table public.messages is '@cache 30s';
      alter publication supabase_realtime add table public.messages;
      create table public.trigger_log (what text);
      create function public.log_insert() returns trigger language plpgsql as $$
        begin insert into public.trigger_log values (new.body); return new; end $$;
      create trigger messages_logged after insert on public.messages for each row execute function public.log_insert();
      insert into public.rooms (name) values ('one');
      insert into public.messages (room_id, body, created_at)
        select 1, 'm' || i, now() - make_interval(days => i * 15) from generate_series(1, 12) i;
      insert into public.reactions select id, created_at, '+1' from public.messages limit 3;
      truncate public.trigger_log;
    `);
  });

  test('keeps rows, keys, indexes, policies, grants, triggers, comment, sequences and publication', async () => {
    expect(await one(`select trellis.partition_by_month('public.messages', 'created_at', premake => 2)`)).toBe(
      'converted public.messages partitioned by month on created_at (12 rows moved); 3 new partitions ahead',
    );
    expect(await one(`select relkind from pg_class where oid = 'public.messages'::regclass`)).toBe('p');
    expect(await one('select count(*)::int from public.messages')).toBe(12);
    expect(await one('select count(*)::int from public.trigger_log')).toBe(0); // the copy fired no trigger
    const kids = await children('public.messages');
    for (const offset of [0, 1, 2]) expect(kids).toContain(monthName('messages', offset));
    expect(kids).toContain('messages_default');

    // PostgreSQL requires the partition key in the primary key: (id) became (id, created_at).
    expect(await one(`select pg_get_constraintdef(oid) from pg_constraint where conname = 'messages_pkey'`)).toBe(
      'PRIMARY KEY (id, created_at)',
    );
    const indexes = (
      await sql.query<{ indexname: string }>(
        `select indexname from pg_indexes where schemaname = 'public' and tablename = 'messages' order by 1`,
      )
    ).rows.map((r) => r.indexname);
    expect(indexes).toEqual(['messages_body_at', 'messages_id_at', 'messages_pkey', 'messages_room_created']);
    expect(
      await one(
        `select count(*)::int from pg_constraint where conrelid = 'public.messages'::regclass and contype = 'f'`,
      ),
    ).toBe(1);
    // The foreign key into the table came back, with its action.
    expect(
      await one(`select pg_get_constraintdef(oid) from pg_constraint where conname = 'reactions_message_fkey'`),
    ).toBe('FOREIGN KEY (message_id, message_at) REFERENCES messages(id, created_at) ON DELETE CASCADE');
    expect(
      (
        await sql.query(
          `select policyname, permissive, roles::text[], cmd from pg_policies where tablename = 'messages' order by 1`,
        )
      ).rows,
    ).toEqual([
      { policyname: 'no anon writes', permissive: 'RESTRICTIVE', roles: ['anon'], cmd: 'INSERT' },
      { policyname: 'readers', permissive: 'PERMISSIVE', roles: ['authenticated'], cmd: 'SELECT' },
    ]);
    expect(
      await one(`select relrowsecurity and relreplident = 'f' from pg_class where oid = 'public.messages'::regclass`),
    ).toBe(true);
    expect(await one(`select has_table_privilege('anon', 'public.messages', 'select')`)).toBe(true);
    expect(await one(`select has_table_privilege('anon', 'public.messages', 'insert')`)).toBe(false);
    expect(await one(`select has_table_privilege('authenticated', 'public.messages', 'insert')`)).toBe(false);
    expect(await one(`select has_column_privilege('authenticated', 'public.messages', 'body', 'insert')`)).toBe(true);
    expect(await one(`select obj_description('public.messages'::regclass)`)).toBe('@cache 30s');
    expect(
      await one(
        `select count(*)::int from pg_publication_tables where pubname = 'supabase_realtime' and tablename = 'messages'`,
      ),
    ).toBe(1);
    expect(await one(`select pubviaroot from pg_publication where pubname = 'supabase_realtime'`)).toBe(true);

    // New rows: identity and serial continue after the moved ones, the trigger fires, the generated column computes.
    const added = (
      await sql.query(`insert into public.messages (room_id, body) values (1, 'new') returning id::int, seq, shout`)
    ).rows[0];
    expect(added).toEqual({ id: 13, seq: 13, shout: 'NEW' });
    expect(await one('select count(*)::int from public.trigger_log')).toBe(1);
    expect(await one(`select pg_get_serial_sequence('public.messages', 'id')`)).toBe('public.messages_id_seq');
    // The default partition's rows are on no partition of their own; a partition named directly is sealed.
    expect(await one(`select has_table_privilege('anon', $1, 'select')`, [`public.${monthName('messages', 0)}`])).toBe(
      false,
    );
    expect(
      await one(`select relrowsecurity from pg_class where oid = $1::regclass`, [`public.${monthName('messages', 0)}`]),
    ).toBe(true);
  });

  test('a second call changes nothing but the settings', async () => {
    const before = await catalogShape();
    expect(
      await one(`select trellis.partition_by_month('messages', 'created_at', premake => 2, retain => '1 year')`),
    ).toBe('kept public.messages partitioned by month on created_at; 0 new partitions ahead');
    expect(await catalogShape()).toEqual(before);
    expect(
      (
        await sql.query(
          `select premake, retain::text from trellis.partitioned_tables where parent = 'public.messages'::regclass`,
        )
      ).rows,
    ).toEqual([{ premake: 2, retain: '1 year' }]);
  });
});

describe('refusals leave nothing made', () => {
  beforeAll(async () => {
    await sql.query(`
      create table public.plain (id int primary key, label text, day date, at timestamp);
      insert into public.plain values (1, 'a', '2026-01-05', null);
      create table public.pointing (id int primary key, plain_id int references public.plain (id));
      create table public.uniq (id int primary key, email text unique, at timestamptz not null);
      create view public.plain_view as select id from public.plain;
    `);
  });

  test.each([
    ['nope', 'created_at', /table "nope" does not exist/],
    ['public.plain; drop table public.plain', 'day', /invalid table name "public\.plain; drop table public\.plain"/],
    ['a.b.c.d', 'day', /invalid table name "a\.b\.c\.d"|table "a\.b\.c\.d" does not exist/],
    ['', 'day', /invalid table name ""/],
    ['"public"."plain"', 'label', /column "label" of plain is of type text; monthly partitions need timestamptz/],
    ['plain', 'no_such', /table plain has no column "no_such"/],
    ['plain', 'day" text); drop table plain; --', /table plain has no column "day" text\); drop table plain; --"/],
    ['plain', 'day', /foreign keys reference plain by columns without "day": pointing_plain_id_fkey on pointing/],
    ['uniq', 'at', /unique indexes of uniq do not include "at": uniq_email_key/],
    ['plain_view', 'id', /plain_view is not a table/],
    ['pg_catalog.pg_class', 'relname', /column "relname" of pg_class is of type name/],
  ])('partition_by_month(%j, %j) is refused', async (table, column, message) => {
    const before = await catalogShape();
    await expect(sql.query('select trellis.partition_by_month($1, $2)', [table, column])).rejects.toThrow(message);
    expect(await catalogShape()).toEqual(before);
  });

  test('a failure late in a conversion (a function using the row type blocks the drop) undoes it all', async () => {
    await sql.query(`
      create table public.typed (id int primary key, at timestamptz not null default now());
      insert into public.typed values (1, now());
      create function public.typed_id(t public.typed) returns int language sql as 'select t.id';
    `);
    const before = await catalogShape();
    await expect(sql.query(`select trellis.partition_by_month('typed', 'at')`)).rejects.toThrow(
      /cannot replace public\.typed: cannot drop table typed because other objects depend on it/,
    );
    expect(await catalogShape()).toEqual(before);
    expect(await one(`select relkind from pg_class where oid = 'public.typed'::regclass`)).toBe('r');
    expect(await one('select count(*)::int from public.typed')).toBe(1);
  });

  test('views on the table, rows without the key, and bad settings are refused', async () => {
    await sql.query('alter table public.pointing drop constraint pointing_plain_id_fkey');
    await expect(sql.query(`select trellis.partition_by_month('plain', 'day')`)).rejects.toThrow(
      /views depend on plain: plain_view/,
    );
    await sql.query('drop view public.plain_view');
    await expect(sql.query(`select trellis.partition_by_month('plain', 'at')`)).rejects.toThrow(
      /rows of plain have no "at"; the primary key will include it/,
    );
    await expect(sql.query(`select trellis.partition_by_month('plain', 'day', premake => 500)`)).rejects.toThrow(
      /premake must be between 0 and 120 months, not 500/,
    );
    await expect(sql.query(`select trellis.partition_by_month('plain', 'day', retain => '-1 day')`)).rejects.toThrow(
      /retain must be a positive interval/,
    );
    await expect(sql.query(`select trellis.partition_by_month(null, 'day')`)).rejects.toThrow(
      /needs a table and a column/,
    );
    expect(await one(`select relkind from pg_class where oid = 'public.plain'::regclass`)).toBe('r');
    // date keys work too, once nothing is in the way.
    expect(await one(`select trellis.partition_by_month('plain', 'day', premake => 0)`)).toMatch(
      /^converted public\.plain/,
    );
    expect(await children('public.plain')).toContain('plain_2026_01');
  });
});

describe('maintenance', () => {
  beforeAll(async () => {
    // Seed 003's shape: a table partitioned by hand (timestamp without time zone), one month made.
    await sql.query(`
      create table public.chat (id uuid default gen_random_uuid(), body text,
        created_at timestamp not null default (now() at time zone 'utc'), primary key (id, created_at))
        partition by range (created_at);
      create table public.chat_2025_12 partition of public.chat for values from ('2025-12-01') to ('2026-01-01');
      alter table public.chat enable row level security;
      create policy "all read" on public.chat for select to anon using (true);
      grant select on public.chat to anon;
      insert into public.chat (body, created_at) values ('december', '2025-12-05');
    `);
  });

  test('adopts a hand-partitioned table, seals its partitions, makes the months ahead', async () => {
    expect(await one(`select has_table_privilege('anon', 'public.chat_2025_12', 'select')`)).toBe(true);
    expect(await one(`select trellis.partition_by_month('chat', 'created_at', premake => 1)`)).toBe(
      'adopted public.chat partitioned by month on created_at; 2 new partitions ahead',
    );
    expect(await one(`select has_table_privilege('anon', 'public.chat_2025_12', 'select')`)).toBe(false);
    expect(await children('public.chat')).toEqual(
      ['chat_2025_12', monthName('chat', 0), monthName('chat', 1), 'chat_default'].sort(),
    );
  });

  test('a run creates the months a raised premake asks for, and a second run does nothing', async () => {
    await sql.query(`update trellis.partitioned_tables set premake = 3 where parent = 'public.chat'::regclass`);
    const first = (await sql.query('select * from trellis.run_partition_maintenance()')).rows;
    expect(first).toEqual(
      expect.arrayContaining([
        { parent: 'public.chat', action: 'created', partition: `public.${monthName('chat', 2)}` },
        { parent: 'public.chat', action: 'created', partition: `public.${monthName('chat', 3)}` },
      ]),
    );
    expect((await sql.query('select * from trellis.run_partition_maintenance()')).rows).toEqual([]);
  });

  test('rows in the default partition get their month, and months past `retain` go to the archive, still readable', async () => {
    await sql.query(
      `insert into public.chat (body, created_at) values ('long ago', '2020-03-10'), ('odd', '2020-03-11')`,
    );
    expect(await one(`select tableoid::regclass::text from public.chat where body = 'long ago'`)).toBe('chat_default');
    await sql.query(`update trellis.partitioned_tables set retain = '6 months' where parent = 'public.chat'::regclass`);
    const run = (await sql.query('select action, partition from trellis.run_partition_maintenance()')).rows;
    expect(run).toEqual([
      { action: 'created', partition: 'public.chat_2020_03' },
      { action: 'archived', partition: 'archive.chat_2020_03' },
      { action: 'archived', partition: 'archive.chat_2025_12' },
    ]);
    expect(await one('select count(*)::int from public.chat')).toBe(0);
    expect(await one('select count(*)::int from public.chat_default')).toBe(0);
    expect(await one(`select relkind from pg_class where oid = 'archive.chat'::regclass`)).toBe('p');
    expect((await sql.query('select body from archive.chat order by created_at')).rows.map((r) => r.body)).toEqual([
      'long ago',
      'odd',
      'december',
    ]);
    // The archive reads as the live table does for the API roles, and only reads.
    const client = await sql.connect();
    try {
      await client.query('begin; set local role anon');
      expect((await client.query('select count(*)::int as n from archive.chat')).rows[0]?.n).toBe(3);
      await expect(client.query(`insert into archive.chat (body) values ('x')`)).rejects.toThrow(/permission denied/);
    } finally {
      await client.query('rollback');
      client.release();
    }
    expect(await one(`select count(*)::int from pg_policies where schemaname = 'archive' and tablename = 'chat'`)).toBe(
      1,
    );
  });

  test('one run at a time: a run that finds the lock taken does nothing', async () => {
    const holder = await sql.connect();
    try {
      await holder.query('begin');
      await holder.query('select pg_advisory_xact_lock(trellis.partition_lock_key())');
      expect((await sql.query('select * from trellis.run_partition_maintenance()')).rows).toEqual([
        { parent: '*', action: 'skipped', partition: 'another run or conversion holds the lock' },
      ]);
    } finally {
      await holder.query('rollback');
      holder.release();
    }
  });

  test('a failing table is reported and the others still get done', async () => {
    await sql.query(`
      create table public.blocked (id int, at timestamptz not null, primary key (id, at)) partition by range (at);
      select trellis.partition_by_month('blocked', 'at', premake => 0);
      create table public.${monthName('blocked', 1)} (x int);
      update trellis.partitioned_tables set premake = 1 where parent = 'public.blocked'::regclass;
      update trellis.partitioned_tables set premake = 4 where parent = 'public.chat'::regclass;
    `);
    const run = (await sql.query('select * from trellis.run_partition_maintenance()')).rows;
    expect(run).toEqual([
      {
        parent: 'public.blocked',
        action: 'failed',
        partition: `cannot create partition public.${monthName('blocked', 1)}: a relation of that name exists`,
      },
      { parent: 'public.chat', action: 'created', partition: `public.${monthName('chat', 4)}` },
    ]);
  });

  test("the server's timer runs maintenance at start", async () => {
    await sql.query(`update trellis.partitioned_tables set premake = 5 where parent = 'public.chat'::regclass`);
    const maintenance = startPartitionMaintenance(db, createLogger({ level: 'silent', pretty: false }), 3600);
    try {
      const deadline = Date.now() + 10_000;
      while (!(await children('public.chat')).includes(monthName('chat', 5)) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await children('public.chat')).toContain(monthName('chat', 5));
      expect(await maintenance.runNow()).toEqual([
        expect.objectContaining({ parent: 'public.blocked', action: 'failed' }),
      ]);
    } finally {
      await maintenance.close();
    }
  });
});
