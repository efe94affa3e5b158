import type { SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CHAT_FIXTURE } from '../../helpers/chat.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

/**
 * What the data API's tests add to the chat fixture (examples/chat): private rooms, member roles,
 * JSON message data, authors editing their messages, tags, and functions and tables that exercise
 * RPC, dynamic SQL and partitions. The app's seed rooms go: this suite seeds its own.
 */
const CHAT_EXTRAS = `
delete from public.rooms;
alter table public.rooms add column is_private boolean not null default false;
drop policy "signed-in users see rooms" on public.rooms;
create policy "public rooms or member" on public.rooms for select using (not is_private or public.is_member(id));
alter table public.members add column role text not null default 'member';
alter table public.messages add column data jsonb not null default '{}';
create policy "authors edit" on public.messages for update to authenticated using (author_id = auth.uid());
create policy "authors delete" on public.messages for delete to authenticated using (author_id = auth.uid());
create table public.tags (id serial primary key, name text unique not null);
create table public.room_tags (room_id bigint references public.rooms (id), tag_id int references public.tags (id), primary key (room_id, tag_id));

alter table public.tags enable row level security;
create policy "tags are public" on public.tags for select using (true);
alter table public.room_tags enable row level security;
create policy "room tags are public" on public.room_tags for select using (true);

create function public.add(a int, b int default 1) returns int language sql immutable as $$ select a + b $$;
create function public.room_stats(room bigint) returns table (message_count bigint, authors bigint) language sql stable as $$
  select count(*), count(distinct author_id) from public.messages where room_id = room
$$;
create function public.search_messages(q text) returns setof public.messages language sql stable as $$
  select * from public.messages where body ilike '%' || q || '%'
$$;
-- Dynamic SQL in a project function: whatever it runs, it runs as the caller.
create function public.run_sql(q text) returns text language plpgsql as $f$ declare r text; begin execute q into r; return r; end $f$;
create function public.guard(x int) returns void language plpgsql stable as $f$ begin if x < 0 then raise exception 'negative: %', x; end if; end $f$;
create function public.hello() returns text language sql stable as $$ select 'hello' $$;
create table public.events (id int not null, part int not null) partition by list (part);
create table public.events_1 partition of public.events for values in (1);
create table public.events_2 partition of public.events for values in (2);
insert into public.events values (1, 1), (2, 2), (3, 1), (4, 2);
grant select, delete on public.events to service_role;
create function public.bump(room bigint) returns void language sql as $$ update public.rooms set name = name where id = room $$;
`;

let server: TestServer;
let admin: SupabaseClient;
let alice: SupabaseClient;
let bob: SupabaseClient;
let anon: SupabaseClient;
let aliceId: string;
let bobId: string;
let general: number;
let secret: number;

async function signedUp(username: string): Promise<[SupabaseClient, string]> {
  const client = supabaseClient(server);
  const { data, error } = await client.auth.signUp({
    email: `${username}@example.com`,
    password: `${username} password`,
    options: { data: { username } },
  });
  if (error) throw error;
  return [client, data.user?.id ?? ''];
}

beforeAll(async () => {
  server = await startTestServer({
    migrations: { '20240101000000_chat.sql': CHAT_FIXTURE, '20240101000001_rest_extras.sql': CHAT_EXTRAS },
  });
  admin = supabaseClient(server, server.serviceRoleKey);
  anon = supabaseClient(server);
  [alice, aliceId] = await signedUp('alice');
  [bob, bobId] = await signedUp('bob');
  const rooms = await admin
    .from('rooms')
    .insert([
      { name: 'general', is_private: false },
      { name: 'secret', is_private: true },
    ])
    .select('id, name');
  expect(rooms.error).toBeNull();
  general = rooms.data?.find((r) => r.name === 'general')?.id;
  secret = rooms.data?.find((r) => r.name === 'secret')?.id;
  const members = await admin.from('members').insert([
    { room_id: general, user_id: aliceId, role: 'owner' },
    { room_id: general, user_id: bobId, role: 'member' },
    { room_id: secret, user_id: aliceId, role: 'owner' },
  ]);
  expect(members.error).toBeNull();
  const tags = await admin
    .from('tags')
    .insert([{ name: 'fun' }, { name: 'work' }])
    .select();
  await admin.from('room_tags').insert(tags.data?.map((t) => ({ room_id: general, tag_id: t.id })) ?? []);
});
afterAll(() => server.stop());

describe('response size', () => {
  test('an answer over REST_MAX_RESPONSE_BYTES is a 413, and embeds are capped at REST_MAX_ROWS', async () => {
    const small = await startTestServer({
      env: { REST_MAX_RESPONSE_BYTES: '4096', REST_MAX_ROWS: '5' },
      migrations: {
        '20240101000000_t.sql': `create table items (id int primary key, label text); create table parts (id int primary key, item_id int references items (id));
        insert into items select g, repeat('x', 100) from generate_series(1, 200) g; insert into parts select g, 1 from generate_series(1, 50) g;
        grant select on items, parts to anon;`,
      },
    });
    try {
      const client = supabaseClient(small);
      const big = await client.from('items').select('*').limit(100);
      expect(big.data?.length).toBe(5);
      const embeds = await client.from('items').select('id, parts(id)').eq('id', 1).single();
      expect((embeds.data?.parts as unknown[]).length).toBe(5);
      const wide = await client
        .from('items')
        .select('id, label, a:label, b:label, c:label, d:label, e:label, f:label, g:label, h:label');
      expect(wide.status).toBe(413);
      expect(wide.error?.code).toBe('54000');
      expect((await fetch(`${small.url}/health`)).status).toBe(200);
    } finally {
      await small.stop();
    }
  });
});

describe('writes under RLS', () => {
  test('members post messages; the author comes from the JWT', async () => {
    for (let i = 1; i <= 30; i++) {
      const who = i % 3 === 0 ? bob : alice;
      const { error } = await who
        .from('messages')
        .insert({ room_id: general, body: `hello ${i}`, data: { n: i, tags: i % 2 ? ['odd'] : ['even'] } });
      expect(error).toBeNull();
    }
    const { data, error } = await alice
      .from('messages')
      .insert({ room_id: secret, body: 'just us' })
      .select('id, body, author_id')
      .single();
    expect(error).toBeNull();
    expect(data).toMatchObject({ body: 'just us', author_id: aliceId });
  });

  test('a non-member cannot post into a room', async () => {
    const { error, status } = await bob.from('messages').insert({ room_id: secret, body: 'let me in' });
    expect(status).toBe(403);
    expect(error?.code).toBe('42501');
    expect(error?.message).toMatch(/row-level security/);
  });

  test('anon cannot write at all', async () => {
    const { status, error } = await anon.from('messages').insert({ room_id: general, body: 'anonymous' });
    expect(status).toBe(401);
    expect(error?.code).toBe('42501');
  });

  test('authors update and delete their own messages only', async () => {
    const mine = await alice.from('messages').insert({ room_id: general, body: 'typo' }).select().single();
    const edited = await alice.from('messages').update({ body: 'fixed' }).eq('id', mine.data?.id).select('body');
    expect(edited.data).toEqual([{ body: 'fixed' }]);
    const notMine = await bob.from('messages').update({ body: 'hijacked' }).eq('id', mine.data?.id).select();
    expect(notMine.data).toEqual([]);
    const deleted = await alice.from('messages').delete().eq('id', mine.data?.id).select('id');
    expect(deleted.data).toEqual([{ id: mine.data?.id }]);
  });
});

describe('reads', () => {
  test('latest 50 messages of a room, newest first, with authors embedded', async () => {
    const { data, error } = await bob
      .from('messages')
      .select('id, body, author:profiles(username)')
      .eq('room_id', general)
      .order('id', { ascending: false })
      .limit(5);
    expect(error).toBeNull();
    expect(data?.map((m) => m.body)).toEqual(['hello 30', 'hello 29', 'hello 28', 'hello 27', 'hello 26']);
    expect(data?.[0]?.author).toEqual({ username: 'bob' });
    expect(data?.[1]?.author).toEqual({ username: 'alice' });
  });

  test('RLS hides rooms and messages a user is not a member of', async () => {
    const bobRooms = await bob.from('rooms').select('name').order('name');
    expect(bobRooms.data).toEqual([{ name: 'general' }]);
    const aliceRooms = await alice.from('rooms').select('name').order('name');
    expect(aliceRooms.data).toEqual([{ name: 'general' }, { name: 'secret' }]);
    const bobSecret = await bob.from('messages').select('id').eq('room_id', secret);
    expect(bobSecret.data).toEqual([]);
    const anonMessages = await anon.from('messages').select('id');
    expect(anonMessages.data).toEqual([]);
  });

  test('one-to-many and many-to-many embeds, with filters and order inside the embed', async () => {
    const { data, error } = await alice
      .from('rooms')
      .select('name, tags(name), messages(body)')
      .eq('name', 'general')
      .order('id', { referencedTable: 'messages', ascending: false })
      .limit(2, { referencedTable: 'messages' })
      .single();
    expect(error).toBeNull();
    expect(data?.tags).toEqual([{ name: 'fun' }, { name: 'work' }]);
    expect(data?.messages).toEqual([{ body: 'hello 30' }, { body: 'hello 29' }]);
  });

  test('hints by foreign key name or column, and spreads of a to-one embed', async () => {
    const byFk = await bob
      .from('messages')
      .select('body, who:profiles!messages_author_id_fkey(username)')
      .eq('body', 'hello 3')
      .single();
    expect(byFk.data).toEqual({ body: 'hello 3', who: { username: 'bob' } });
    const byColumn = await bob
      .from('messages')
      .select('body, profiles!author_id(username)')
      .eq('body', 'hello 3')
      .single();
    expect(byColumn.data).toEqual({ body: 'hello 3', profiles: { username: 'bob' } });
    const spread = await bob.from('messages').select('body, ...profiles(username)').eq('body', 'hello 4').single();
    expect(spread.data).toEqual({ body: 'hello 4', username: 'alice' });
    const wrongHint = await bob.from('messages').select('body, profiles!nope(username)');
    expect(wrongHint.error?.code).toBe('PGRST200');
  });

  test('!inner embeds filter the parents', async () => {
    const { data } = await alice.from('rooms').select('name, messages!inner(body)').eq('messages.body', 'just us');
    expect(data).toEqual([{ name: 'secret', messages: [{ body: 'just us' }] }]);
  });

  test('filters: in, ilike, or, not, is, gte, JSON paths and contains', async () => {
    const q = () => alice.from('messages').select('body').eq('room_id', general);
    expect((await q().in('body', ['hello 1', 'hello 2'])).data?.length).toBe(2);
    expect((await q().ilike('body', 'HELLO 1%')).data?.length).toBe(11);
    expect((await q().or('body.eq.hello 3,body.eq.hello 4')).data?.length).toBe(2);
    expect((await q().not('body', 'like', 'hello%')).data?.length).toBe(0);
    expect((await q().is('data->n', null)).data?.length).toBe(0);
    expect((await q().gte('data->n', 29)).data?.map((m) => m.body).sort()).toEqual(['hello 29', 'hello 30']);
    expect((await q().eq('data->>n', '7')).data).toEqual([{ body: 'hello 7' }]);
    expect((await q().contains('data', { tags: ['even'] })).data?.length).toBe(15);
    const { data } = await alice.from('messages').select('n:data->n, body').eq('data->>n', '5').single();
    expect(data).toEqual({ n: 5, body: 'hello 5' });
  });

  test('range, exact count and Content-Range', async () => {
    const { data, count, status } = await alice
      .from('messages')
      .select('id', { count: 'exact' })
      .eq('room_id', general)
      .order('id')
      .range(10, 19);
    expect(data?.length).toBe(10);
    expect(count).toBe(30);
    expect(status).toBe(206);
    const head = await alice.from('messages').select('*', { count: 'exact', head: true }).eq('room_id', general);
    expect(head.count).toBe(30);
    expect(head.data).toBeNull();
  });

  test('single() and maybeSingle()', async () => {
    const none = await alice.from('rooms').select().eq('name', 'nope').maybeSingle();
    expect(none).toMatchObject({ data: null, error: null });
    const many = await alice.from('rooms').select().single();
    expect(many.status).toBe(406);
    expect(many.error?.code).toBe('PGRST116');
  });

  test('csv()', async () => {
    const { data } = await alice.from('rooms').select('name, is_private').order('name').csv();
    // PostgREST writes each row as PostgreSQL's record text: booleans are t and f.
    expect(data).toBe('name,is_private\ngeneral,f\nsecret,t');
  });
});

describe('upsert', () => {
  test('merges on the primary key or a unique column, or ignores duplicates', async () => {
    const first = await admin.from('tags').upsert({ name: 'fun' }, { onConflict: 'name' }).select('name');
    expect(first.error).toBeNull();
    const ignored = await admin
      .from('tags')
      .upsert([{ name: 'fun' }, { name: 'new' }], { onConflict: 'name', ignoreDuplicates: true })
      .select('name');
    expect(ignored.data).toEqual([{ name: 'new' }]);
    const count = await admin.from('tags').select('*', { count: 'exact', head: true });
    expect(count.count).toBe(3);
  });

  test('bulk insert with differing keys: missing ones are NULL, or defaults with defaultToNull: false', async () => {
    const nulls = await admin.from('rooms').insert([{ name: 'a' }, { name: 'b', is_private: true }]);
    expect(nulls.error?.code).toBe('23502');
    const { data, error } = await admin
      .from('rooms')
      .insert([{ name: 'a' }, { name: 'b', is_private: true }], { defaultToNull: false })
      .select('name, is_private');
    expect(error).toBeNull();
    expect(data).toEqual([
      { name: 'a', is_private: false },
      { name: 'b', is_private: true },
    ]);
  });
});

describe('rpc', () => {
  test('scalar, table and setof functions, with filters on the result', async () => {
    expect((await anon.rpc('add', { a: 2, b: 3 })).data).toBe(5);
    expect((await anon.rpc('add', { a: 2 })).data).toBe(3);
    const stats = await alice.rpc('room_stats', { room: general });
    expect(stats.data).toEqual([{ message_count: 30, authors: 2 }]);
    const found = await alice.rpc('search_messages', { q: 'hello 1' }).select('body').order('id').limit(3);
    expect(found.data).toEqual([{ body: 'hello 1' }, { body: 'hello 10' }, { body: 'hello 11' }]);
    const get = await alice.rpc('add', { a: 40, b: 2 }, { get: true });
    expect(get.data).toBe(42);
  });

  test('a volatile function called with GET is refused; void answers 204', async () => {
    const viaGet = await admin.rpc('bump', { room: general }, { get: true });
    expect(viaGet.error, JSON.stringify(viaGet.error)).not.toBeNull();
    expect(viaGet.status).toBe(405);
    expect(viaGet.error?.code).toBe('25006');
    const viaPost = await admin.rpc('bump', { room: general });
    expect(viaPost.error).toBeNull();
    expect(viaPost.status).toBe(204);
  });

  test('a stable void function still runs (its exception reaches the caller); no-argument functions work', async () => {
    const refused = await anon.rpc('guard', { x: -1 });
    expect(refused.status).toBe(400);
    expect(refused.error?.code).toBe('P0001');
    expect(refused.error?.message).toBe('negative: -1');
    expect((await anon.rpc('guard', { x: 1 })).status).toBe(204);
    expect((await anon.rpc('hello')).data).toBe('hello');
  });

  test('a schema change reloaded by NOTIFY does not leave stale prepared plans behind', async () => {
    for (let i = 0; i < 3; i++)
      expect((await alice.rpc('search_messages', { q: 'hello 2' }).select('body').limit(1)).error).toBeNull();
    await server.sql.query('alter table public.messages alter column body type varchar(4000)');
    await server.sql.query(`notify pgrst, 'reload schema'`);
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 3; i++) {
      const { data, error } = await alice.rpc('search_messages', { q: 'hello 2' }).select('body').order('id').limit(1);
      expect(error).toBeNull();
      expect(data).toEqual([{ body: 'hello 2' }]);
    }
  });

  test('an unknown function is a 404', async () => {
    const { error, status } = await anon.rpc('nope', { x: 1 });
    expect(status).toBe(404);
    expect(error?.code).toBe('PGRST202');
  });
});

describe('Prefer, profiles and the schema cache', () => {
  const raw = (path: string, init: RequestInit & { token?: string } = {}) =>
    fetch(`${server.url}/rest/v1/${path}`, {
      ...init,
      headers: {
        apikey: server.anonKey,
        authorization: `Bearer ${init.token ?? server.serviceRoleKey}`,
        'content-type': 'application/json',
        ...init.headers,
      },
    });

  test('Prefer: tx=rollback answers as if committed and keeps nothing', async () => {
    const response = await raw('rooms?select=name', {
      method: 'POST',
      body: JSON.stringify({ name: 'ephemeral', is_private: false }),
      headers: { prefer: 'return=representation, tx=rollback' },
    });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual([{ name: 'ephemeral' }]);
    expect(response.headers.get('preference-applied')).toContain('tx=rollback');
    expect((await admin.from('rooms').select('id').eq('name', 'ephemeral')).data).toEqual([]);
  });

  test("count=planned is the planner's estimate; count=estimated is exact up to max rows, planned beyond", async () => {
    await server.sql.query(
      'create table public.readings (id int primary key, v int); insert into public.readings select g, g % 7 from generate_series(1, 5000) g; analyze public.readings',
    );
    await server.sql.query("grant select on public.readings to service_role; notify pgrst, 'reload schema'");
    await expect.poll(async () => (await admin.from('readings').select('id').limit(1)).status).toBe(200);
    const planned = await admin.from('readings').select('id', { count: 'planned' }).limit(2);
    expect(planned.count).toBe(5000);
    expect(planned.status).toBe(206);
    const filtered = await admin.from('readings').select('id', { count: 'planned', head: true }).lt('id', 100);
    expect(filtered.count).toBeGreaterThan(50);
    expect(filtered.count).toBeLessThan(200);
    // 30 rows is under REST_MAX_ROWS (1000): counted exactly. 5000 is over it: the estimate.
    expect(
      (await alice.from('messages').select('id', { count: 'estimated', head: true }).eq('room_id', general)).count,
    ).toBe(30);
    const overMax = await admin.from('readings').select('id', { count: 'estimated', head: true }).neq('v', 7);
    expect(overMax.count).toBe(5000);
  });

  test("Prefer: return=headers-only answers 201 with a Location naming the new row's key", async () => {
    const response = await raw('tags', {
      method: 'POST',
      body: JSON.stringify({ name: 'located' }),
      headers: { prefer: 'return=headers-only' },
    });
    expect(response.status).toBe(201);
    expect(await response.text()).toBe('');
    const { data } = await admin.from('tags').select('id').eq('name', 'located').single();
    expect(response.headers.get('location')).toBe(`/tags?id=eq.${data?.id}`);
    const composite = await raw('room_tags', {
      method: 'POST',
      body: JSON.stringify({ room_id: general, tag_id: data?.id }),
      headers: { prefer: 'return=headers-only' },
    });
    expect(composite.headers.get('location')).toBe(`/room_tags?room_id=eq.${general}&tag_id=eq.${data?.id}`);
    const minimal = await raw('tags', {
      method: 'POST',
      body: JSON.stringify({ name: 'unlocated' }),
      headers: { prefer: 'return=minimal' },
    });
    expect(minimal.headers.get('location')).toBeNull();
  });

  test('Prefer: max-affected with handling=strict refuses a wider change and rolls it back', async () => {
    await admin.from('tags').insert([{ name: 'x1' }, { name: 'x2' }]);
    const response = await raw('tags?name=like.x*', {
      method: 'DELETE',
      headers: { prefer: 'handling=strict, max-affected=1' },
    });
    expect(response.status).toBe(400);
    expect((await response.json()).code).toBe('PGRST124');
    expect((await admin.from('tags').select('name').like('name', 'x*')).data?.length).toBe(2);
  });

  test('a schema that is not exposed is refused through Accept-Profile', async () => {
    const { status, error } = await admin.schema('auth').from('users').select('id');
    expect(status).toBe(406);
    expect(error?.code).toBe('PGRST106');
  });

  test('NOTIFY pgrst reloads the schema cache: a table made after start becomes reachable', async () => {
    await server.sql.query(
      'create table public.late (id int primary key); grant select on public.late to anon, authenticated, service_role',
    );
    expect((await admin.from('late').select()).status).toBe(404);
    await server.sql.query(`notify pgrst, 'reload schema'`);
    let status = 0;
    for (let i = 0; i < 40 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await admin.from('late').select()).status;
    }
    expect(status).toBe(200);
  });
});

describe('hostile and careless requests', () => {
  test('a cast cannot carry SQL', async () => {
    // supabase-js strips the spaces (the cast becomes one unknown type name); a raw request keeps them.
    const viaClient = await anon
      .from('rooms')
      .select('name::text from rooms t0 union select usename from pg_user union select name');
    expect(viaClient.status).toBe(400);
    const raw = await fetch(
      `${server.url}/rest/v1/rooms?select=${encodeURIComponent('name::text from rooms t0 union select usename from pg_user union select name')}`,
      { headers: { apikey: server.anonKey } },
    );
    expect(raw.status).toBe(400);
    expect((await raw.json()).code).toBe('PGRST100');
    const fine = await admin.from('rooms').select('id::text, created_at::timestamptz').eq('name', 'general').single();
    expect(fine.data).toMatchObject({ id: String(general) });
  });

  test('delete with order and limit removes only those rows; limit without order is refused', async () => {
    for (const body of ['d1', 'd2', 'd3']) await alice.from('messages').insert({ room_id: secret, body });
    const deleted = await alice
      .from('messages')
      .delete()
      .eq('room_id', secret)
      .like('body', 'd%')
      .order('id', { ascending: false })
      .limit(1)
      .select('body');
    expect(deleted.error).toBeNull();
    expect(deleted.data).toEqual([{ body: 'd3' }]);
    const left = await alice.from('messages').select('body').like('body', 'd%').order('id');
    expect(left.data).toEqual([{ body: 'd1' }, { body: 'd2' }]);
    const unordered = await fetch(`${server.url}/rest/v1/messages?body=like.d*&limit=1`, {
      method: 'DELETE',
      headers: {
        apikey: server.anonKey,
        authorization: `Bearer ${(await alice.auth.getSession()).data.session?.access_token}`,
      },
    });
    expect(unordered.status).toBe(400);
    expect((await unordered.json()).code).toBe('PGRST109');
    expect((await alice.from('messages').select('body').like('body', 'd%')).data?.length).toBe(2);
  });

  test('a limited delete on a partitioned table removes exactly the rows asked for', async () => {
    const deleted = await admin.from('events').delete().order('id').limit(1).select('id');
    expect(deleted.data).toEqual([{ id: 1 }]);
    expect((await admin.from('events').select('id').order('id')).data).toEqual([{ id: 2 }, { id: 3 }, { id: 4 }]);
  });

  test('a filter on a resource that is not embedded is refused, never ignored', async () => {
    const patch = await alice.from('messages').update({ body: 'patched' }).eq('rooms.name', 'general');
    expect(patch.status).toBe(400);
    expect(patch.error?.code).toBe('PGRST108');
    const read = await alice.from('rooms').select('name').eq('messages.body', 'x');
    expect(read.error?.code).toBe('PGRST108');
    expect((await alice.from('messages').select('id').eq('body', 'patched')).data).toEqual([]);
  });

  test('deeply nested JSON is a 400, not a crash', async () => {
    // Written by hand: JSON.stringify itself overflows on this.
    const deep = `{"data":${'['.repeat(5000)}1${']'.repeat(5000)}}`;
    const headers = {
      apikey: server.serviceRoleKey,
      authorization: `Bearer ${server.serviceRoleKey}`,
      'content-type': 'application/json',
    };
    for (const path of ['/rest/v1/messages', '/rest/v1/rpc/add']) {
      const response = await fetch(`${server.url}${path}`, { method: 'POST', headers, body: deep });
      expect([path, response.status, await response.text()]).toEqual([
        path,
        400,
        expect.stringContaining('nested deeper'),
      ]);
    }
  });

  test('SQL run as anon cannot become another role: requests log in as a role that can only be anon, authenticated or service_role', async () => {
    expect((await anon.rpc('run_sql', { q: 'select current_user' })).data).toBe('anon');
    for (const role of ['postgres', 'authenticator']) {
      const escalate = await anon.rpc('run_sql', { q: `select set_config('role', '${role}', true)` });
      expect(escalate.error?.code).toBe('42501');
    }
    const session = await anon.rpc('run_sql', { q: 'select session_user' });
    expect(session.data).toMatch(/^trellis_request_[0-9a-f]{16}$/);
  });

  test('a forged token learns nothing about which tables exist', async () => {
    const headers = {
      apikey: server.anonKey,
      authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.AAAA',
    };
    for (const table of ['rooms', 'no_such_table']) {
      const response = await fetch(`${server.url}/rest/v1/${table}`, { headers });
      expect(response.status).toBe(401);
      expect((await response.json()).code).toBe('PGRST301');
    }
  });
});

describe('errors in PostgREST shape', () => {
  test.each([
    ['unknown table', (c: SupabaseClient) => c.from('nope').select(), 404, 'PGRST205'],
    ['unknown column', (c: SupabaseClient) => c.from('rooms').select('nope'), 400, '42703'],
    ['unknown embed', (c: SupabaseClient) => c.from('rooms').select('*, nope(*)'), 400, 'PGRST200'],
    ['unique violation', (c: SupabaseClient) => c.from('rooms').insert({ name: 'general' }), 409, '23505'],
    [
      'check violation',
      (c: SupabaseClient) =>
        c.from('messages').insert({ room_id: 1, body: '', author_id: '00000000-0000-0000-0000-000000000000' }),
      400,
      '23514',
    ],
    ['bad type', (c: SupabaseClient) => c.from('rooms').select().eq('id', 'abc'), 400, '22P02'],
    ['insert into unknown column', (c: SupabaseClient) => c.from('rooms').insert({ nope: 1 }), 400, 'PGRST204'],
  ])('%s', async (_, run, status, code) => {
    const result = await run(admin);
    expect(result.status).toBe(status);
    expect(result.error?.code).toBe(code);
  });
});
