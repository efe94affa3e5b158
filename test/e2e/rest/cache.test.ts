/**
 * The response cache end to end, through supabase-js and plain fetch, on a server that reads the
 * WAL (an embedded PostgreSQL, wal_level=logical): a cached anonymous read is answered without the
 * database, a change forgets it, a user's RLS-filtered answer never reaches another user, ETag and
 * If-None-Match give 304, and a `@cache` directive that does not parse is ignored with a warning.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import pg from 'pg';
import pino from 'pino';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sleep } from '../../helpers/realtime.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';
import { logicalDatabase } from '../../realtime/changes/helpers.js';

const CACHE_FIXTURE = `
create table public.rooms (id int primary key, name text not null);
comment on table public.rooms is 'Chat rooms, listed on the home page. @cache 30s';
insert into public.rooms values (1, 'one'), (2, 'two');
create view public.room_names as select name from public.rooms;
comment on view public.room_names is '@cache 1m';
create table public.notes (id serial primary key, owner uuid not null default auth.uid(), body text not null);
alter table public.notes enable row level security;
create policy own_notes on public.notes for select using (owner = auth.uid());
create policy write_own on public.notes for insert with check (owner = auth.uid());
comment on table public.notes is '@cache 30s';
create table public.typo (id int primary key);
comment on table public.typo is 'Docs first. @cache forever';
create table public.hidden (id int primary key);
comment on table public.hidden is '@cache 30s';
create table public.topics (id int primary key, room_id int not null references public.rooms, title text not null);
insert into public.topics values (1, 1, 'first');
create table public.pins (id int primary key, room_id int not null references public.rooms);
create table public.banners (id int primary key);
comment on table public.banners is '@cache 30s';
insert into public.banners values (1), (2);
alter publication supabase_realtime add table public.rooms, public.notes, public.typo, public.topics, public.banners;
`;

/** Polls `probe` every 10 ms until it is true; fails after `timeoutMs`. */
async function eventually(probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/** Reads until the cache answers (an earlier test's change may still be forgetting: feed.ts). */
async function untilHit(read: () => PromiseLike<unknown>, last: () => string | null): Promise<void> {
  await eventually(async () => {
    await read();
    return last() === 'hit';
  }, 5000);
}

let database: Awaited<ReturnType<typeof logicalDatabase>>;
let server: TestServer;
const logged: { msg: string; relation?: string }[] = [];

const rest = (path: string, init: RequestInit & { key?: string } = {}) =>
  fetch(`${server.url}/rest/v1/${path}`, {
    ...init,
    headers: {
      apikey: server.anonKey,
      authorization: `Bearer ${init.key ?? server.anonKey}`,
      ...(init.headers as Record<string, string> | undefined),
    },
  });

/** A supabase-js client that remembers how the cache answered its last request. */
function tracked(): { client: SupabaseClient; last: () => string | null } {
  let last: string | null = null;
  const client = createClient(server.url, server.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: WebSocket as unknown as never },
    global: {
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        last = response.headers.get('x-trellis-cache');
        return response;
      },
    },
  });
  return { client, last: () => last };
}

beforeAll(async () => {
  database = await logicalDatabase();
  server = await startTestServer({
    databaseUrl: database.url,
    migrations: { '20240101000000_cache.sql': CACHE_FIXTURE },
    log: pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) }),
  });
  // The change stream must be read before anything is cached.
  await eventually(async () => (await rest('rooms')).headers.get('x-trellis-cache') !== null, 15_000);
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await database?.stop();
});

describe('an anonymous read of a @cache table', () => {
  test('is answered from the cache, without the database: the table can be locked meanwhile', async () => {
    const { client, last } = tracked();
    const first = await client.from('rooms').select('id,name').order('id');
    expect(first.error).toBeNull();
    expect(last()).toBe('miss');
    await client.from('rooms').select('id,name').order('id');
    expect(last()).toBe('hit');
    const again = await rest('rooms?select=id,name&order=id.asc');
    await rest('rooms?select=id,name&order=id.asc');
    expect(again.headers.get('cache-control')).toBe('public, max-age=30');
    // A lock no reader can pass: a read that reached PostgreSQL would wait for it.
    const locker = new pg.Client({ connectionString: database.url });
    await locker.connect();
    try {
      await locker.query('begin; lock table public.rooms in access exclusive mode');
      const started = performance.now();
      const cached = await client.from('rooms').select('id,name').order('id');
      expect(performance.now() - started).toBeLessThan(1000);
      expect(last()).toBe('hit');
      expect(cached.data).toEqual(first.data);
      expect((await rest('rooms?select=id,name&order=id.asc')).headers.get('x-trellis-cache')).toBe('hit');
      // The same table asked differently is not in the cache, and waits for the lock.
      const uncached = await rest('rooms?select=name', { signal: AbortSignal.timeout(700) }).then(
        () => 'answered',
        () => 'waited',
      );
      expect(uncached).toBe('waited');
    } finally {
      await locker.query('rollback').catch(() => undefined);
      await locker.end();
    }
  });

  test('an insert forgets it at once, and the view reading the table too', async () => {
    const { client, last } = tracked();
    await untilHit(() => client.from('rooms').select('*').order('id'), last);
    await untilHit(() => client.from('room_names').select('name'), last);
    await server.sql.query(`insert into public.rooms values (3, 'three')`);
    const started = performance.now();
    await eventually(async () => {
      const { data } = await client.from('rooms').select('*').order('id');
      return data?.length === 3;
    }, 2000);
    expect(performance.now() - started).toBeLessThan(500);
    const names = await client.from('room_names').select('name');
    expect(names.data).toContainEqual({ name: 'three' });
    const metrics = await (
      await fetch(`${server.url}/metrics`, {
        headers: { apikey: server.serviceRoleKey, authorization: `Bearer ${server.serviceRoleKey}` },
      })
    ).text();
    expect(metrics).toMatch(/trellis_rest_cache_requests_total\{result="hit"\} [1-9]/);
    expect(metrics).toMatch(/trellis_rest_cache_invalidation_lag_seconds_count [1-9]/);
  });

  test('a TRUNCATE forgets it too (no rows in the WAL, only the table)', async () => {
    const { client, last } = tracked();
    await untilHit(() => client.from('banners').select('id'), last);
    await server.sql.query('truncate public.banners');
    await eventually(async () => {
      const { data } = await client.from('banners').select('id');
      return data?.length === 0;
    }, 2000);
  });

  test('an embedded table need not be opted in, and a change to it forgets the read', async () => {
    const { client, last } = tracked();
    const read = () => client.from('rooms').select('id,topics(title)').eq('id', 1);
    await untilHit(read, last);
    expect((await read()).data).toEqual([{ id: 1, topics: [{ title: 'first' }] }]);
    await server.sql.query(`insert into public.topics values (2, 1, 'second')`);
    await eventually(async () => (await read()).data?.[0]?.topics.length === 2, 2000);
    // An embedded table outside the publication is never cached.
    for (const _ of [1, 2]) await client.from('rooms').select('id,pins(id)');
    expect(last()).toBeNull();
  });

  test('ETag and If-None-Match answer 304 until the rows change', async () => {
    const first = await rest('rooms?select=id&order=id.asc');
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{32}"$/);
    const notModified = await rest('rooms?select=id&order=id.asc', { headers: { 'if-none-match': etag! } });
    expect(notModified.status).toBe(304);
    expect(await notModified.text()).toBe('');
    expect(notModified.headers.get('etag')).toBe(etag);
    await server.sql.query(`update public.rooms set name = 'uno' where id = 1`);
    await eventually(async () => {
      const r = await rest('rooms?select=id,name&order=id.asc');
      return ((await r.json()) as { name: string }[])[0]?.name === 'uno';
    }, 2000);
    // The ids did not change, so the tag of that answer is the same bytes' tag again.
    const same = await rest('rooms?select=id&order=id.asc', { headers: { 'if-none-match': etag! } });
    expect(same.status).toBe(304);
    const changed = await rest('rooms?select=id,name&order=id.asc', { headers: { 'if-none-match': etag! } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });

  test('HEAD, Range and Prefer: count are keyed apart', async () => {
    const full = await rest('rooms?select=id&order=id.asc');
    const ranged = await rest('rooms?select=id&order=id.asc', { headers: { range: '0-0' } });
    const counted = await rest('rooms?select=id&order=id.asc', { headers: { prefer: 'count=exact', range: '0-0' } });
    const head = await rest('rooms?select=id&order=id.asc', { method: 'HEAD' });
    expect(((await full.json()) as unknown[]).length).toBeGreaterThan(1);
    expect(await ranged.json()).toEqual([{ id: 1 }]);
    expect(counted.headers.get('content-range')).toMatch(/^0-0\/\d+$/);
    expect(ranged.headers.get('content-range')).toBe('0-0/*');
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });
});

describe('what must not be cached', () => {
  async function user(name: string): Promise<[SupabaseClient, string]> {
    const client = supabaseClient(server);
    const { data, error } = await client.auth.signUp({ email: `${name}@example.com`, password: `${name} password` });
    if (error || !data.session) throw error ?? new Error('no session');
    return [client, data.session.access_token];
  }

  test('a read under RLS on auth.uid() is never served to another user', async () => {
    const [alice, aliceToken] = await user('alice');
    const [bob, bobToken] = await user('bob');
    expect((await alice.from('notes').insert({ body: 'alice secret' })).error).toBeNull();
    expect((await bob.from('notes').insert({ body: 'bob secret' })).error).toBeNull();
    const a1 = await rest('notes?select=body', { key: aliceToken });
    expect(await a1.json()).toEqual([{ body: 'alice secret' }]);
    // Cached once the inserts' invalidations are past (feed.ts forgets twice, 100 ms apart).
    let a2 = a1;
    await eventually(async () => {
      a2 = await rest('notes?select=body', { key: aliceToken });
      return a2.headers.get('x-trellis-cache') === 'hit';
    }, 5000);
    expect(await a2.json()).toEqual([{ body: 'alice secret' }]);
    expect(a2.headers.get('cache-control')).toBe('private, no-cache');
    const b1 = await rest('notes?select=body', { key: bobToken });
    expect(await b1.json()).toEqual([{ body: 'bob secret' }]);
    expect(b1.headers.get('x-trellis-cache')).toBe('miss');
    const anon = await supabaseClient(server).from('notes').select('body');
    expect(anon.data).toEqual([]);
    expect((await bob.from('notes').select('body')).data).toEqual([{ body: 'bob secret' }]);
  });

  test('signed-in users share the answer of a table whose reads do not depend on claims, privately', async () => {
    const [, carolToken] = await user('carol');
    const [, daveToken] = await user('dave');
    const carol = await rest('rooms?select=id&order=id.desc', { key: carolToken });
    const dave = await rest('rooms?select=id&order=id.desc', { key: daveToken });
    expect(carol.headers.get('x-trellis-cache')).toBe('miss');
    expect(dave.headers.get('x-trellis-cache')).toBe('hit');
    expect(dave.headers.get('cache-control')).toBe('private, no-cache');
    expect(await dave.json()).toEqual(await carol.json());
    // The anonymous answer of the same URL is another entry (the role is in the key).
    expect((await rest('rooms?select=id&order=id.desc')).headers.get('x-trellis-cache')).toBe('miss');
  });

  test('a malformed If-None-Match is no match', async () => {
    for (const header of ['garbage', '"', 'W/', ',,,', '"x"'.repeat(2000)]) {
      const r = await rest('rooms?select=id', { headers: { 'if-none-match': header } });
      expect(r.status).toBe(200);
    }
  });

  test('a bad @cache directive is ignored with a warning, and so is a table outside the publication', async () => {
    const typo = await rest('typo');
    expect(typo.status).toBe(200);
    expect(typo.headers.get('x-trellis-cache')).toBeNull();
    expect(typo.headers.get('cache-control')).toBeNull();
    const hidden = await rest('hidden');
    expect(hidden.headers.get('x-trellis-cache')).toBeNull();
    expect(logged).toContainEqual(
      expect.objectContaining({ relation: 'public.typo', msg: expect.stringContaining('"forever" is not a duration') }),
    );
    expect(logged).toContainEqual(
      expect.objectContaining({
        relation: 'public.hidden',
        msg: expect.stringContaining('supabase_realtime publication'),
      }),
    );
  });

  test('a table without @cache keeps its answers uncached', async () => {
    await server.sql.query('create table public.plain (id int primary key)');
    await server.sql.query(`notify pgrst, 'reload schema'`);
    await eventually(async () => (await rest('plain')).status === 200, 5000);
    const plain = await rest('plain');
    expect(plain.headers.get('x-trellis-cache')).toBeNull();
    expect(plain.headers.get('etag')).toBeNull();
  });
});
