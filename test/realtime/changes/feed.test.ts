/**
 * The change feed end to end below the socket: plain SQL writes (not the API) on an embedded
 * PostgreSQL with wal_level=logical reach ChangeHub subscribers, filtered and authorised.
 */
import { Registry } from 'prom-client';
// What supabase-js applies to `record`/`old_record` before a callback sees `new`/`old`.
import { convertChangeData } from '@supabase/realtime-js/dist/main/lib/transformers.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Db } from '../../../src/db/pool.js';
import { createChangeHub } from '../../../src/realtime/changes/index.js';
import type { ChangeHub } from '../../../src/realtime/changes/contract.js';
import { testDb } from '../../helpers/db.js';
import {
  logicalDatabase,
  memoryBus,
  migrateWith,
  recorder,
  subscribeRecorder,
  silentLog,
  sleep,
  waitFor,
} from './helpers.js';

const alice = '00000000-0000-4000-8000-00000000000a';
const bob = '00000000-0000-4000-8000-00000000000b';
const user = (sub: string) => ({ role: 'authenticated', sub, aal: 'aal1' });
const service = { role: 'service_role' };

let database: { url: string; stop(): Promise<void> };
let db: Db;
let hub: ChangeHub;
const bus = memoryBus();
const metrics = { registry: new Registry() };

beforeAll(async () => {
  database = await logicalDatabase();
  db = testDb(database.url, { max: 6 });
  await migrateWith(
    db,
    `create table messages (id bigserial primary key, room int not null, owner uuid not null, body text,
       tags text[], meta jsonb, score float8, done boolean default false, created_at timestamptz default now());
     alter table messages enable row level security;
     create policy "own rows" on messages for select to authenticated using (owner = auth.uid());
     create table notes (id int primary key, body text);
     create table hidden (id int primary key);
     create table nokey (body text);
     alter table nokey replica identity full;
     alter publication supabase_realtime add table messages, notes, nokey;`,
  );
  hub = await createChangeHub({ db, replicationUrl: database.url, bus, log: silentLog, electionRetryMs: 200, metrics });
  expect(hub.problem()).toBeUndefined();
});

afterAll(async () => {
  await hub?.close();
  await db?.close();
  await database?.stop();
});

const subscribed = (...args: Parameters<typeof recorder>) => subscribeRecorder(hub, ...args);

describe('postgres_changes from the WAL', () => {
  test('insert, update and delete made with plain SQL arrive in the shape realtime-js reads', async () => {
    const sub = await subscribed(service, [{ event: '*', schema: 'public', table: 'messages' }]);
    const { rows } = await db.query<{ id: string }>(
      `insert into messages (room, owner, body, tags, meta, score) values (1, $1, 'hello', '{a,"b c"}', '{"k": [1, 2]}', 1.5) returning id`,
      [alice],
    );
    const id = Number(rows[0]?.id);
    // Row-level security is checked by looking the row up after the commit (as Supabase does):
    // each write waits for its event, or the delete would hide the insert from the lookup.
    await waitFor(() => sub.received.length >= 1);
    await db.query(`update messages set body = 'edited', done = true where id = $1`, [id]);
    await waitFor(() => sub.received.length >= 2);
    await db.query(`delete from messages where id = $1`, [id]);
    await waitFor(() => sub.received.length >= 3);
    sub.unsubscribe();
    const [ins, upd, del] = sub.received.map((r) => r.data);
    expect(sub.received.map((r) => r.ids)).toEqual([[1], [1], [1]]);
    expect(ins).toMatchObject({
      schema: 'public',
      table: 'messages',
      type: 'INSERT',
      record: {
        id,
        room: 1,
        owner: alice,
        body: 'hello',
        tags: ['a', 'b c'],
        meta: { k: [1, 2] },
        score: 1.5,
        done: false,
      },
      old_record: {},
      errors: null,
    });
    expect(ins?.commit_timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Math.abs(Date.parse(ins?.commit_timestamp ?? '') - Date.now())).toBeLessThan(60_000);
    expect(String(ins?.record.created_at)).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+\+00:00$/);
    expect(ins?.columns).toContainEqual({ name: 'id', type: 'int8' });
    expect(ins?.columns).toContainEqual({ name: 'tags', type: '_text' });
    expect(upd).toMatchObject({ type: 'UPDATE', record: { id, body: 'edited', done: true }, old_record: { id } });
    // What a supabase-js callback receives as `new`: the same values, nothing re-typed wrongly.
    const seen = convertChangeData(ins?.columns.map((c) => ({ ...c })) ?? [], { ...ins?.record } as Parameters<
      typeof convertChangeData
    >[1]);
    expect(seen).toEqual(ins?.record);
    // RLS is on: a delete carries only the primary key (the deleted row cannot be checked).
    expect(del).toMatchObject({ type: 'DELETE', record: {}, old_record: { id } });
    expect(Object.keys(del?.old_record ?? {})).toEqual(['id']);
  });

  test('a table without RLS sends the whole old row it has; events other than the asked one are not sent', async () => {
    await db.query(`alter table notes replica identity full`);
    const deletes = await subscribed({ role: 'anon' }, [{ event: 'DELETE', schema: 'public', table: 'notes' }]);
    await db.query(`insert into notes values (1, 'one')`);
    await db.query(`delete from notes where id = 1`);
    await waitFor(() => deletes.received.length >= 1);
    await sleep(200);
    deletes.unsubscribe();
    expect(deletes.received.map((r) => r.data.type)).toEqual(['DELETE']);
    expect(deletes.received[0]?.data.old_record).toEqual({ id: 1, body: 'one' });
  });

  test('filters: only matching rows, with the ids of the matching subscriptions', async () => {
    const sub = await subscribed(service, [
      { event: 'INSERT', schema: 'public', table: 'messages', filter: 'room=eq.2' },
      { event: 'INSERT', schema: 'public', table: 'messages', filter: 'room=in.(2,3)' },
      { event: 'INSERT', schema: 'public', table: 'messages', filter: 'body=like.urgent%' },
      { event: 'INSERT', schema: 'public', table: 'messages', filter: 'room=gt.2,body=not.is.null' },
    ]);
    await db.query(
      `insert into messages (room, owner, body) values (1, $1, 'r1'), (2, $1, 'r2'), (3, $1, 'r3'), (4, $1, null), (9, $1, 'urgent: x')`,
      [alice],
    );
    await waitFor(() => sub.received.length >= 3);
    await sleep(200);
    sub.unsubscribe();
    const seen = sub.received.map((r) => [r.data.record.room, r.ids]);
    expect(seen).toEqual([
      [2, [1, 2]],
      [3, [2, 4]],
      [9, [3, 4]],
    ]);
  });

  test("row-level security: two users never see each other's rows; anon sees none", async () => {
    const a = await subscribed(user(alice), [{ event: '*', schema: 'public', table: 'messages' }]);
    const b = await subscribed(user(bob), [{ event: '*', schema: 'public', table: 'messages' }]);
    const b2 = await subscribed(user(bob), [{ event: 'INSERT', schema: 'public', table: 'messages' }]);
    const anon = await subscribed({ role: 'anon' }, [{ event: '*', schema: 'public', table: 'messages' }]).catch(
      (e: Error) => e,
    );
    await db.query(
      `insert into messages (room, owner, body) values (5, $1, 'for alice'), (5, $2, 'for bob'), (5, $1, 'alice again')`,
      [alice, bob],
    );
    await waitFor(() => a.received.length >= 2 && b.received.length >= 1 && b2.received.length >= 1);
    await sleep(300);
    a.unsubscribe();
    b.unsubscribe();
    b2.unsubscribe();
    expect(a.received.map((r) => r.data.record.body)).toEqual(['for alice', 'alice again']);
    expect(b.received.map((r) => r.data.record.body)).toEqual(['for bob']);
    expect(b2.received.map((r) => r.data.record.body)).toEqual(['for bob']);
    // anon has SELECT (Supabase's default grants) but no policy: it may subscribe and gets nothing.
    if (!(anon instanceof Error)) {
      anon.unsubscribe();
      expect(anon.received).toEqual([]);
    }
  });

  test('a table without a primary key reports the error Supabase sends instead of the row', async () => {
    const sub = await subscribed(service, [{ event: 'INSERT', schema: 'public', table: 'nokey' }]);
    await db.query(`insert into nokey values ('x')`);
    await waitFor(() => sub.received.length >= 1);
    sub.unsubscribe();
    expect(sub.received[0]?.data).toMatchObject({
      type: 'INSERT',
      record: {},
      errors: ['Error 400: Bad Request, no primary key'],
    });
  });

  test('a schema-wide subscription hears every published table of the schema', async () => {
    const sub = await subscribed(service, [{ event: 'INSERT', schema: 'public' }]);
    await db.query(`insert into notes values (50, 'n')`);
    await db.query(`insert into messages (room, owner, body) values (50, $1, 'm')`, [alice]);
    await waitFor(() => sub.received.length >= 2);
    sub.unsubscribe();
    expect(sub.received.map((r) => r.data.table)).toEqual(['notes', 'messages']);
  });

  test.each([
    [{ event: '*', schema: 'public', table: 'hidden' }, /not in the supabase_realtime publication/],
    [{ event: '*', schema: 'public', table: 'nope' }, /not in the supabase_realtime publication/],
    [{ event: '*', schema: 'public', table: 'messages', filter: 'room=xx.1' }, /"xx" is not a supported operator/],
    [{ event: '*', schema: 'public', table: 'messages', filter: 'room=eq.abc' }, /invalid filter on room.*integer/],
    [
      { event: '*', schema: 'public', table: 'messages', filter: 'nocolumn=eq.1' },
      /invalid column for filter nocolumn/,
    ],
    [{ event: '*', schema: 'public', table: 'messages', filter: 'room=like.1%' }, /invalid filter on room/],
    [{ event: '*', schema: 'public', filter: 'room=eq.1' }, /a filter needs a table/],
    [{ event: 'UPSERT', schema: 'public', table: 'messages' }, /not an event/],
  ] as const)('refuses %j', async (request, message) => {
    const result = await hub.subscribe(recorder(service, [request as never]));
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(/^Unable to subscribe to changes with given parameters/);
    expect(!result.ok && result.message).toMatch(message);
  });

  test('a role that is not an API role is refused', async () => {
    const result = await hub.subscribe(
      recorder({ role: 'postgres' }, [{ event: '*', schema: 'public', table: 'notes' }]),
    );
    expect(result).toEqual({ ok: false, message: 'role "postgres" may not subscribe to postgres_changes' });
  });

  test('a role without SELECT on the table is refused', async () => {
    await db.query('revoke select on notes from anon');
    try {
      const result = await hub.subscribe(
        recorder({ role: 'anon' }, [{ event: '*', schema: 'public', table: 'notes' }]),
      );
      expect(!result.ok && result.message).toMatch(/permission denied for table public.notes/);
    } finally {
      await db.query('grant select on notes to anon');
    }
  });

  test('an unsubscribed subscriber gets nothing more, and /metrics counts what was delivered', async () => {
    const sub = await subscribed(service, [{ event: 'INSERT', schema: 'public', table: 'notes' }]);
    sub.unsubscribe();
    await db.query(`insert into notes values (70, 'after unsubscribe')`);
    await sleep(300);
    expect(sub.received).toEqual([]);
    const text = await metrics.registry.metrics();
    expect(Number(/trellis_realtime_change_deliveries_total (\d+)/.exec(text)?.[1])).toBeGreaterThan(5);
    expect(text).toMatch(/trellis_realtime_change_authorise_seconds_count \d+/);
  });
});
