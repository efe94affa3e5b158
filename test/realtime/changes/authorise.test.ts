/**
 * The batched row-level security check (realtime.trellis_visible_to) gives, for every claim set,
 * the answer a transaction as that subscriber would: run on the request login (as in production),
 * across roles, policies that call auth.uid() and auth.jwt(), grants, and rows that are gone.
 * Needs no logical decoding, so it runs on any server.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Db } from '../../../src/db/pool.js';
import { prepareRequestRole } from '../../../src/db/request-role.js';
import { visibleTo, type ClaimGroup } from '../../../src/realtime/changes/authorise.js';
import { Catalog, type TableInfo } from '../../../src/realtime/changes/catalog.js';
import { freshDatabase, testDb, type TestDatabase } from '../../helpers/db.js';
import { migrateWith, silentLog } from './helpers.js';

const alice = '00000000-0000-4000-8000-00000000000a';
const bob = '00000000-0000-4000-8000-00000000000b';

let database: TestDatabase;
let server: Db;
let requests: Db;
let docs: TableInfo;

beforeAll(async () => {
  database = await freshDatabase();
  server = testDb(database.url, { max: 4 });
  await migrateWith(
    server,
    `create table docs (id int, part text, owner uuid, team text, primary key (id, part));
     alter table docs enable row level security;
     create policy "owner" on docs for select to authenticated using (owner = auth.uid());
     create policy "team" on docs for select to authenticated using (team = auth.jwt() -> 'app_metadata' ->> 'team');
     create policy "public part" on docs for select to anon using (part = 'public');
     insert into docs values (1, 'a', '${alice}', null), (2, 'a', '${bob}', 'red'), (3, 'public', null, null);
     create table closed (id int primary key);
     alter table closed enable row level security;
     revoke all on closed from anon, authenticated;
     insert into closed values (1);`,
  );
  const requestUrl = await prepareRequestRole(server, database.url, silentLog);
  expect(requestUrl).toBeDefined();
  requests = server.forRequests(requestUrl as string);
  docs = (await new Catalog(requests).table('public', 'docs')) as TableInfo;
});

afterAll(async () => {
  await requests?.close();
  await database?.drop();
});

const group = (claims: Record<string, unknown> & { role: string }): ClaimGroup => ({
  role: claims.role,
  claims: JSON.stringify(claims),
});
const groups = [
  group({ role: 'authenticated', sub: alice }),
  group({ role: 'anon' }),
  group({ role: 'authenticated', sub: bob }),
  group({ role: 'service_role' }),
  group({ role: 'authenticated', sub: alice, app_metadata: { team: 'red' } }),
  group({ role: 'authenticated' }),
];

describe('realtime.trellis_visible_to', () => {
  test.each([
    [{ id: '1', part: 'a' }, [true, false, false, true, true, false]],
    [{ id: '2', part: 'a' }, [false, false, true, true, true, false]],
    [{ id: '3', part: 'public' }, [false, true, false, true, false, false]],
    // A row that is gone (deleted since the change) is visible to no one.
    [{ id: '9', part: 'a' }, [false, false, false, false, false, false]],
  ])('row %j: the same answers as one transaction per subscriber', async (key, expected) => {
    const batched = await visibleTo(requests, docs, [key], groups, 'batched');
    const perSubscriber = await visibleTo(requests, docs, [key], groups, 'perSubscriber');
    expect(batched).toEqual([expected]);
    expect(perSubscriber).toEqual([expected]);
  });

  test('the rows of one transaction are checked together, each with its own answers', async () => {
    const keys = [
      { id: '1', part: 'a' },
      { id: '9', part: 'a' },
      { id: '3', part: 'public' },
      { id: '2', part: 'a' },
    ];
    const batched = await visibleTo(requests, docs, keys, groups, 'batched');
    expect(batched).toEqual(await visibleTo(requests, docs, keys, groups, 'perSubscriber'));
    expect(batched).toEqual([
      [true, false, false, true, true, false],
      [false, false, false, false, false, false],
      [false, true, false, true, false, false],
      [false, false, true, true, true, false],
    ]);
    // Many rows for few groups are split over calls of at most 250 lookups, in order.
    const many = Array.from({ length: 600 }, (_, i) => (i % 3 === 0 ? { id: '1', part: 'a' } : { id: '2', part: 'a' }));
    const answers = await visibleTo(requests, docs, many, groups.slice(0, 1), 'batched');
    expect(answers).toEqual(many.map((k) => [k.id === '1']));
  });

  test('without a SELECT grant nothing is visible, and the caller keeps its own role and claims', async () => {
    const closed = (await new Catalog(requests).table('public', 'closed')) as TableInfo;
    expect(await visibleTo(requests, closed, [{ id: '1' }], groups, 'batched')).toEqual([
      [false, false, false, true, false, false],
    ]);
    const after = await requests.withClaims({ role: 'service_role', marker: 1 }, async (tx) => {
      await tx.query('select realtime.trellis_visible_to($1::regclass, $2::jsonb[], $3, $4)', [
        'public.docs',
        ['{"id":"1","part":"a"}'],
        ['anon', 'authenticated'],
        ['{}', '{}'],
      ]);
      return (
        await tx.query<{ r: string; c: string }>(`select current_user as r, current_setting('request.jwt.claims') as c`)
      ).rows[0];
    });
    expect(after).toEqual({ r: 'service_role', c: JSON.stringify({ role: 'service_role', marker: 1 }) });
  });

  test('a transaction is visible only once committed (what the lookups wait for)', async () => {
    const visible = (xid: number) =>
      requests.withClaims(
        { role: 'service_role' },
        async (tx) =>
          (await tx.query<{ v: boolean }>('select realtime.trellis_committed_visible($1) as v', [xid])).rows[0]?.v,
      );
    await server.withConnection(async (client) => {
      await client.query('begin');
      const xid = Number(
        (await client.query<{ x: string }>(`select (pg_current_xact_id()::text::bigint & 4294967295)::text as x`))
          .rows[0]?.x,
      );
      expect(await visible(xid)).toBe(false);
      await client.query('commit');
      expect(await visible(xid)).toBe(true);
    });
  });

  test('only service_role may call it', async () => {
    for (const role of ['anon', 'authenticated']) {
      await expect(
        requests.withClaims({ role }, (tx) =>
          tx.query(`select realtime.trellis_visible_to('public.docs', '{}'::jsonb[], '{service_role}', '{"{}"}')`),
        ),
      ).rejects.toThrow(/permission denied for function trellis_visible_to/);
    }
  });

  test('many claim groups, split over parallel calls, keep their order', async () => {
    const many = Array.from({ length: 700 }, (_, i) =>
      group({ role: 'authenticated', sub: i % 7 === 0 ? alice : bob, n: i }),
    );
    const answers = await visibleTo(requests, docs, [{ id: '1', part: 'a' }], many, 'batched');
    expect(answers).toEqual([many.map((_, i) => i % 7 === 0)]);
  });
});
