/**
 * Monthly partitions end to end: the reference chat app's messages converted by a migration
 * (`trellis.partition_by_month`), then used through supabase-js as on a plain table — inserts,
 * reads and embedding under RLS, postgres_changes on the parent — and archived months read back
 * from the `archive` schema with the same policies.
 */
import type { RealtimePostgresChangesPayload, SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CHAT_FIXTURE } from '../../helpers/chat.js';
import { closeRealtime, sleep, subscribed, waitFor } from '../../helpers/realtime.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';
import { logicalDatabase } from '../../realtime/changes/helpers.js';
import { monthName } from '../../helpers/months.js';

const PARTITIONED = `select trellis.partition_by_month('public.messages', 'created_at', premake => 2, retain => '6 months');`;

let database: Awaited<ReturnType<typeof logicalDatabase>>;
let server: TestServer;
const clients: SupabaseClient[] = [];
let alice: SupabaseClient;
let aliceId: string;
let bob: SupabaseClient;

async function signedIn(name: string, rooms: number[]): Promise<[SupabaseClient, string]> {
  const client = supabaseClient(server);
  clients.push(client);
  const { data, error } = await client.auth.signUp({ email: `${name}@example.com`, password: `${name} password` });
  if (error || !data.user) throw error ?? new Error('no user');
  for (const room of rooms) await server.sql.query('insert into public.members values ($1, $2)', [room, data.user.id]);
  return [client, data.user.id];
}

/** The UTC midnight of day 2 of the month `offset` months from now, as ISO text. */
function dayOfMonth(offset: number): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 2)).toISOString();
}

beforeAll(async () => {
  database = await logicalDatabase();
  server = await startTestServer({
    databaseUrl: database.url,
    migrations: { '20240101000000_chat.sql': CHAT_FIXTURE, '20240101000001_partitions.sql': PARTITIONED },
    // The timer is the db test's; here each run is called where the test needs it.
    env: { REST_SCHEMAS: 'public,archive', PARTITION_MAINTENANCE_INTERVAL: '0' },
  });
  [alice, aliceId] = await signedIn('alice', [1]);
  [bob] = await signedIn('bob', [2]);
}, 120_000);
afterAll(async () => {
  await closeRealtime(...clients);
  await server?.stop();
  await database?.stop();
});

describe('a partitioned table through the data API', () => {
  test('the migration made monthly partitions', async () => {
    const { rows } = await server.sql.query<{ name: string }>(
      `select inhrelid::regclass::text as name from pg_inherits where inhparent = 'public.messages'::regclass order by 1`,
    );
    expect(rows.map((r) => r.name)).toEqual(
      [monthName('messages', 0), monthName('messages', 1), monthName('messages', 2), 'messages_default'].sort(),
    );
  });

  test('inserts, reads and embedding work as on a plain table, under RLS', async () => {
    const posted = await alice.from('messages').insert({ room_id: 1, body: 'hello partitions' }).select().single();
    expect(posted.error).toBeNull();
    expect(posted.data).toMatchObject({ room_id: 1, body: 'hello partitions', author_id: aliceId });
    const read = await alice
      .from('messages')
      .select('body, author:profiles(username)')
      .eq('id', posted.data?.id as number);
    expect(read.error).toBeNull();
    expect(read.data).toEqual([{ body: 'hello partitions', author: { username: 'alice' } }]);
    // bob is not in room 1: he sees none of it and cannot post there.
    expect((await bob.from('messages').select('id').eq('room_id', 1)).data).toEqual([]);
    const refused = await bob.from('messages').insert({ room_id: 1, body: 'intruder' });
    expect(refused.error?.code).toBe('42501');
    const updated = await alice
      .from('messages')
      .update({ body: 'edited' })
      .eq('id', posted.data?.id as number)
      .select();
    // The chat app has no update policy: as on a plain table, nothing matches.
    expect(updated.data).toEqual([]);
  });

  test('a row dated next month lands in its partition and reads back through the parent', async () => {
    const at = dayOfMonth(1);
    const posted = await alice
      .from('messages')
      .insert({ room_id: 1, body: 'from the future', created_at: at })
      .select('id')
      .single();
    expect(posted.error).toBeNull();
    const { rows } = await server.sql.query(
      `select tableoid::regclass::text as part from public.messages where id = $1`,
      [posted.data?.id],
    );
    expect(rows).toEqual([{ part: monthName('messages', 1) }]);
    const found = await alice.from('messages').select('body').gte('created_at', at);
    expect(found.data).toEqual([{ body: 'from the future' }]);
  });

  test('partitions themselves are not reachable through the API', async () => {
    for (const client of [alice, supabaseClient(server)]) {
      for (const table of [monthName('messages', 0), 'messages_default']) {
        const { data, error } = await client.from(table).select('*');
        expect(data).toBeNull();
        expect(error?.code).toBe('42501');
      }
    }
  });

  test('postgres_changes on the parent deliver inserts, to members only', async () => {
    type Change = RealtimePostgresChangesPayload<{ body: string; room_id: number }>;
    const listen = async (client: SupabaseClient, name: string) => {
      const got: Change[] = [];
      await subscribed(
        client
          .channel(name)
          .on(
            'postgres_changes',
            { event: 'INSERT', schema: 'public', table: 'messages' } as never,
            (p: Change) => void got.push(p),
          ),
      );
      return got;
    };
    const aliceGot = await listen(alice, 'alice-live');
    const bobGot = await listen(bob, 'bob-live');
    await alice.from('messages').insert({ room_id: 1, body: 'live one' });
    await alice.from('messages').insert({ room_id: 1, body: 'live next month', created_at: dayOfMonth(1) });
    await waitFor(() => aliceGot.length === 2, 10_000, 'both inserts');
    expect(aliceGot.map((c) => [c.schema, c.table, c.eventType, (c.new as { body: string }).body])).toEqual([
      ['public', 'messages', 'INSERT', 'live one'],
      ['public', 'messages', 'INSERT', 'live next month'],
    ]);
    await sleep(300);
    expect(bobGot).toEqual([]);
  });
});

describe('archived months', () => {
  test('are moved to the archive schema by maintenance and read back there under the same RLS', async () => {
    await server.sql.query(
      `insert into public.messages (room_id, author_id, body, created_at) values
         (1, $1, 'old news', now() - interval '8 months'), (2, $1, 'old other room', now() - interval '8 months')`,
      [aliceId],
    );
    const run = await server.sql.query<{ action: string; partition: string }>(
      'select action, partition from trellis.run_partition_maintenance()',
    );
    expect(run.rows).toEqual([
      { action: 'created', partition: `public.${monthName('messages', -8)}` },
      { action: 'archived', partition: `archive.${monthName('messages', -8)}` },
    ]);
    expect((await alice.from('messages').select('body').like('body', 'old%')).data).toEqual([]);
    // Read when asked: the archive schema, through the same client (Accept-Profile: archive).
    // The schema cache reloads on the NOTIFY the archive's creation sent, a moment after the commit.
    let archived = await alice.schema('archive').from('messages').select('body, room_id');
    for (let i = 0; archived.error && i < 50; i++) {
      await sleep(100);
      archived = await alice.schema('archive').from('messages').select('body, room_id');
    }
    expect(archived.data).toEqual([{ body: 'old news', room_id: 1 }]);
    // bob is in room 2 only: the archive applies the live table's policies.
    expect((await bob.schema('archive').from('messages').select('body')).data).toEqual([{ body: 'old other room' }]);
    const write = await alice.schema('archive').from('messages').insert({ room_id: 1, body: 'rewrite history' });
    expect(write.error?.code).toBe('42501');
  });

  test('a second conversion call and a second run change nothing', async () => {
    const again = await server.sql.query<{ r: string }>(
      `select trellis.partition_by_month('public.messages', 'created_at', premake => 2, retain => '6 months') as r`,
    );
    expect(again.rows[0]?.r).toBe('kept public.messages partitioned by month on created_at; 0 new partitions ahead');
    expect((await server.sql.query('select * from trellis.run_partition_maintenance()')).rows).toEqual([]);
  });
});
