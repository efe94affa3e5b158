/**
 * postgres_changes end to end: realtime-js subscribers on a server that reads the WAL (an
 * embedded PostgreSQL, wal_level=logical), rows written through the data API and from plain SQL,
 * filters, and RLS deciding who receives what.
 */
import type { RealtimePostgresChangesPayload, SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CHAT_FIXTURE } from '../../helpers/chat.js';
import { closeRealtime, sleep, subscribed, waitFor } from '../../helpers/realtime.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';
import { logicalDatabase } from '../../realtime/changes/helpers.js';

/**
 * What this suite adds to the chat fixture (examples/chat): rooms 1 and 2 in place of the app's
 * seed rooms, messages written from plain SQL with no author, and a table outside the publication.
 */
const CHAT_EXTRAS = `
delete from public.rooms;
insert into public.rooms (id, name) overriding system value values (1, 'one'), (2, 'two');
alter table public.messages alter column author_id drop not null;
create table public.audit (id bigint generated always as identity primary key, note text);
`;

type Change = RealtimePostgresChangesPayload<{ id: number; room_id: number; body: string }>;

let database: Awaited<ReturnType<typeof logicalDatabase>>;
let server: TestServer;
const clients: SupabaseClient[] = [];

async function signedIn(name: string, rooms: number[]): Promise<[SupabaseClient, string]> {
  const client = supabaseClient(server);
  clients.push(client);
  const { data, error } = await client.auth.signUp({ email: `${name}@example.com`, password: `${name} password` });
  if (error || !data.user) throw error ?? new Error('no user');
  for (const room of rooms) await server.sql.query('insert into public.members values ($1, $2)', [room, data.user.id]);
  return [client, data.user.id];
}

function listen(
  client: SupabaseClient,
  name: string,
  filter: { event: '*' | 'INSERT' | 'UPDATE' | 'DELETE'; filter?: string },
): Promise<Change[]> {
  const got: Change[] = [];
  const channel = client
    .channel(name)
    .on(
      'postgres_changes',
      { schema: 'public', table: 'messages', ...filter } as never,
      (p: Change) => void got.push(p),
    );
  return subscribed(channel).then(() => got);
}

beforeAll(async () => {
  database = await logicalDatabase();
  server = await startTestServer({
    databaseUrl: database.url,
    migrations: { '20240101000000_chat.sql': CHAT_FIXTURE, '20240101000001_changes_extras.sql': CHAT_EXTRAS },
  });
}, 120_000);
afterAll(async () => {
  await closeRealtime(...clients);
  await server?.stop();
  await database?.stop();
});

describe('postgres_changes through realtime-js', () => {
  test('inserts from the API and from SQL reach members only, through their filters', async () => {
    const [alice] = await signedIn('alice', [1, 2]);
    const [bob] = await signedIn('bob', [2]);
    const [carol] = await signedIn('carol', []);
    const aliceRoom1 = await listen(alice, 'a', { event: 'INSERT', filter: 'room_id=eq.1' });
    const bobAll = await listen(bob, 'b', { event: '*' });
    const carolAll = await listen(carol, 'c', { event: 'INSERT' });

    const posted = await alice.from('messages').insert({ room_id: 1, body: 'for room one' }).select('id').single();
    expect(posted.error).toBeNull();
    await server.sql.query(`insert into public.messages (room_id, body) values (2, 'from psql')`);

    await waitFor(() => aliceRoom1.length === 1 && bobAll.length === 1, 10_000, 'both deliveries');
    expect(aliceRoom1[0]).toMatchObject({
      schema: 'public',
      table: 'messages',
      eventType: 'INSERT',
      new: { room_id: 1, body: 'for room one', id: posted.data?.id },
      errors: null,
    });
    expect(Date.parse(aliceRoom1[0]?.commit_timestamp ?? '')).toBeGreaterThan(Date.now() - 60_000);
    expect(bobAll[0]).toMatchObject({ eventType: 'INSERT', new: { room_id: 2, body: 'from psql' } });
    // Room 1 is not bob's, room 2 does not pass alice's filter, carol is in no room.
    await sleep(500);
    expect(aliceRoom1).toHaveLength(1);
    expect(bobAll).toHaveLength(1);
    expect(carolAll).toEqual([]);
  });

  test('updates and deletes carry the new row and the old key; deletes pass no filter, as on Supabase', async () => {
    const [dave] = await signedIn('dave', [2]);
    const filtered = await listen(dave, 'd', { event: '*', filter: 'room_id=eq.2' });
    const all = await listen(dave, 'd-all', { event: '*' });
    const { rows } = await server.sql.query<{ id: number }>(
      `insert into public.messages (room_id, body) values (2, 'draft') returning id`,
    );
    const id = Number(rows[0]?.id);
    // RLS is checked against the row as it is when the change is handled (Supabase does the same):
    // each step waits for the previous delivery, or a row deleted at once would reach no one.
    await waitFor(() => all.length === 1, 10_000, 'the insert');
    await server.sql.query(`update public.messages set body = 'final' where id = $1`, [id]);
    await waitFor(() => all.length === 2, 10_000, 'the update');
    await server.sql.query(`delete from public.messages where id = $1`, [id]);
    await waitFor(() => all.length === 3, 10_000, 'the delete');
    expect(all.map((c) => c.eventType)).toEqual(['INSERT', 'UPDATE', 'DELETE']);
    expect(all[1]).toMatchObject({ new: { id, body: 'final' }, old: { id } });
    expect(all[2]).toMatchObject({ new: {}, old: { id } });
    // A DELETE carries only the key, so a filter on another column cannot match it.
    await sleep(300);
    expect(filtered.map((c) => c.eventType)).toEqual(['INSERT', 'UPDATE']);
  });

  test('a subscriber who signs in later receives what the new token may read', async () => {
    const anonymous = supabaseClient(server);
    clients.push(anonymous);
    const got = await listen(anonymous, 'e', { event: 'INSERT', filter: 'room_id=eq.2' });
    await server.sql.query(`insert into public.messages (room_id, body) values (2, 'before sign-in')`);
    await sleep(700);
    expect(got).toEqual([]);
    // Signing in hands the new access token to realtime (access_token on the open channel).
    const { data } = await anonymous.auth.signUp({ email: 'erin@example.com', password: 'erin password' });
    await server.sql.query('insert into public.members values (2, $1)', [data.user?.id]);
    await sleep(500);
    await server.sql.query(`insert into public.messages (room_id, body) values (2, 'after sign-in')`);
    await waitFor(() => got.length === 1, 10_000, 'the delivery after sign-in');
    expect(got[0]?.new).toMatchObject({ body: 'after sign-in' });
  });

  test('a table outside the publication and a bad filter refuse the subscription', async () => {
    const [frank] = await signedIn('frank', [1]);
    const audit = frank
      .channel('f1')
      .on('postgres_changes', { event: '*', schema: 'public', table: 'audit' }, () => undefined);
    await expect(subscribed(audit)).rejects.toThrow(/audit|publication/i);
    const bad = frank
      .channel('f2')
      .on(
        'postgres_changes',
        { event: '*', schema: 'public', table: 'messages', filter: 'room_id=between.1' },
        () => undefined,
      );
    await expect(subscribed(bad)).rejects.toThrow(/filter|between/i);
  });
});

describe('a server without logical decoding', () => {
  test('says so on /ready (still ready: everything else serves)', async () => {
    const plain = await startTestServer();
    try {
      const level = (await plain.sql.query<{ wal_level: string }>('show wal_level')).rows[0]?.wal_level;
      const ready = await fetch(`${plain.url}/ready`);
      expect(ready.status).toBe(200);
      const body = (await ready.json()) as { degraded?: string[] };
      if (level === 'logical')
        expect(body.degraded ?? []).not.toContainEqual(expect.stringContaining('postgres_changes'));
      else expect(body.degraded).toContainEqual(expect.stringMatching(/^postgres_changes: .*wal_level=logical/));
    } finally {
      await plain.stop();
    }
  });
});
