/**
 * A partitioned table in the publication (issue 13): its rows live in the partitions, and
 * postgres_changes subscribed on the parent hear them as the parent (its schema, name and
 * columns), with the parent's filters and row-level security, as on Supabase.
 */
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

beforeAll(async () => {
  database = await logicalDatabase();
  db = testDb(database.url, { max: 6 });
  // Two partitions by month; the second was made on its own with its columns in another order
  // (and a dropped one) and attached, so its rows are not laid out as the parent's.
  await migrateWith(
    db,
    `create table posts (id bigint not null, owner uuid not null, body text, sent date not null,
       primary key (id, sent)) partition by range (sent);
     create table posts_2024_01 partition of posts for values from ('2024-01-01') to ('2024-02-01');
     create table posts_2024_02 (gone int, sent date not null, body text, owner uuid not null, id bigint not null);
     alter table posts_2024_02 drop column gone;
     alter table posts attach partition posts_2024_02 for values from ('2024-02-01') to ('2024-03-01');
     alter table posts enable row level security;
     create policy "own posts" on posts for select to authenticated using (owner = auth.uid());
     alter publication supabase_realtime add table posts;`,
  );
  hub = await createChangeHub({
    db,
    replicationUrl: database.url,
    bus: memoryBus(),
    log: silentLog,
    electionRetryMs: 200,
  });
  expect(hub.problem()).toBeUndefined();
});

afterAll(async () => {
  await hub?.close();
  await db?.close();
  await database?.stop();
});

const subscribed = (...args: Parameters<typeof recorder>) => subscribeRecorder(hub, ...args);

describe('postgres_changes on a partitioned table', () => {
  test('insert, update and delete of rows in either partition arrive named as the parent', async () => {
    const sub = await subscribed(service, [{ event: '*', schema: 'public', table: 'posts' }]);
    await db.query(`insert into posts values (1, $1, 'january', '2024-01-10')`, [alice]);
    await db.query(`insert into posts values (2, $1, 'february', '2024-02-10')`, [alice]);
    await waitFor(() => sub.received.length >= 2);
    await db.query(`update posts set body = body || '!'`);
    await waitFor(() => sub.received.length >= 4);
    await db.query(`delete from posts where id = 1`);
    await db.query(`delete from posts where id = 2`);
    await waitFor(() => sub.received.length >= 6);
    sub.unsubscribe();
    const seen = sub.received.map((r) => r.data);
    expect(seen.map((d) => [d.schema, d.table, d.type])).toEqual([
      ['public', 'posts', 'INSERT'],
      ['public', 'posts', 'INSERT'],
      ['public', 'posts', 'UPDATE'],
      ['public', 'posts', 'UPDATE'],
      ['public', 'posts', 'DELETE'],
      ['public', 'posts', 'DELETE'],
    ]);
    // The parent's columns, in the parent's order, whichever partition holds the row.
    for (const d of seen.slice(0, 2)) {
      expect(d.columns.map((c) => c.name)).toEqual(['id', 'owner', 'body', 'sent']);
    }
    expect(seen[1]?.record).toEqual({ id: 2, owner: alice, body: 'february', sent: '2024-02-10' });
    expect(seen.slice(2, 4).map((d) => d.record.body)).toEqual(['january!', 'february!']);
    // RLS is on: a delete carries the primary key only.
    expect(seen.slice(4).map((d) => d.old_record)).toEqual([
      { id: 1, sent: '2024-01-10' },
      { id: 2, sent: '2024-02-10' },
    ]);
  });

  test("the parent's filters and row-level security decide, for rows of both partitions", async () => {
    const a = await subscribed(user(alice), [{ event: 'INSERT', schema: 'public', table: 'posts' }]);
    const b = await subscribed(user(bob), [{ event: 'INSERT', schema: 'public', table: 'posts' }]);
    const febOnly = await subscribed(service, [
      { event: 'INSERT', schema: 'public', table: 'posts', filter: 'sent=gte.2024-02-01' },
    ]);
    await db.query(
      `insert into posts values (10, $1, 'alice jan', '2024-01-05'), (11, $2, 'bob jan', '2024-01-06'),
                                (12, $1, 'alice feb', '2024-02-05'), (13, $2, 'bob feb', '2024-02-06')`,
      [alice, bob],
    );
    await waitFor(() => a.received.length >= 2 && b.received.length >= 2 && febOnly.received.length >= 2);
    await sleep(300);
    a.unsubscribe();
    b.unsubscribe();
    febOnly.unsubscribe();
    expect(a.received.map((r) => r.data.record.body)).toEqual(['alice jan', 'alice feb']);
    expect(b.received.map((r) => r.data.record.body)).toEqual(['bob jan', 'bob feb']);
    expect(febOnly.received.map((r) => r.data.record.body)).toEqual(['alice feb', 'bob feb']);
    expect(a.received.every((r) => r.data.table === 'posts')).toBe(true);
  });

  test('a publication that sends partitions as themselves is named in the refusal', async () => {
    // What a project migration that makes the publication again (drop, create) leaves behind.
    await db.query('alter publication supabase_realtime set (publish_via_partition_root = false)');
    try {
      const result = await hub.subscribe(recorder(service, [{ event: '*', schema: 'public', table: 'posts' }]));
      expect(!result.ok && result.message).toMatch(
        /table public.posts is partitioned, .*publish_via_partition_root = true/,
      );
    } finally {
      await db.query('alter publication supabase_realtime set (publish_via_partition_root = true)');
    }
  });
});
