import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { closeRealtime, RawSocket, sleep, subscribed, waitFor } from '../../helpers/realtime.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

let server: TestServer;
const clients: SupabaseClient[] = [];
const client = () => {
  const c = supabaseClient(server);
  clients.push(c);
  return c;
};

beforeAll(async () => {
  server = await startTestServer({
    migrations: {
      '20240101000000_rooms.sql': `
        create table public.notes (id bigint generated always as identity primary key, room text not null, body text not null);
        alter table public.notes enable row level security;
        create policy "anyone" on public.notes for all using (true) with check (true);
        -- A trigger that broadcasts each note to its room, the Supabase way.
        create function public.broadcast_note() returns trigger language plpgsql as $$
        begin
          perform realtime.send(jsonb_build_object('body', new.body), 'note', 'room:' || new.room, false);
          return new;
        end $$;
        create trigger notes_broadcast after insert on public.notes for each row execute function public.broadcast_note();
      `,
    },
  });
});
afterAll(async () => {
  await closeRealtime(...clients);
  await server.stop();
});

describe('broadcast between realtime-js clients', () => {
  test('a message reaches everyone on the topic but not the sender (self off)', async () => {
    const [a, b, c] = [client(), client(), client()];
    const got: Record<string, unknown[]> = { a: [], b: [], c: [] };
    const chA = await subscribed(a.channel('room-1').on('broadcast', { event: 'msg' }, (m) => got.a!.push(m.payload)));
    await subscribed(b.channel('room-1').on('broadcast', { event: 'msg' }, (m) => got.b!.push(m.payload)));
    await subscribed(c.channel('room-2').on('broadcast', { event: 'msg' }, (m) => got.c!.push(m.payload)));
    expect(await chA.send({ type: 'broadcast', event: 'msg', payload: { text: 'hi', n: 1 } })).toBe('ok');
    await waitFor(() => got.b!.length === 1);
    await sleep(100);
    expect(got.b).toEqual([{ text: 'hi', n: 1 }]);
    expect(got.a).toEqual([]);
    expect(got.c).toEqual([]);
  });

  test('self: true echoes to the sender; ack: true resolves after the server took it', async () => {
    const a = client();
    const got: unknown[] = [];
    const ch = await subscribed(
      a
        .channel('room-self', { config: { broadcast: { self: true, ack: true } } })
        .on('broadcast', { event: '*' }, (m) => got.push([m.event, m.payload])),
    );
    expect(await ch.send({ type: 'broadcast', event: 'ping', payload: { n: 7 } })).toBe('ok');
    await waitFor(() => got.length === 1);
    expect(got).toEqual([['ping', { n: 7 }]]);
  });

  test('binary payloads pass through untouched', async () => {
    const [a, b] = [client(), client()];
    let received: unknown;
    const chA = await subscribed(a.channel('room-bin'));
    await subscribed(b.channel('room-bin').on('broadcast', { event: 'blob' }, (m) => (received = m.payload)));
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    await chA.send({ type: 'broadcast', event: 'blob', payload: bytes.buffer });
    await waitFor(() => received !== undefined);
    expect(new Uint8Array(received as ArrayBuffer)).toEqual(bytes);
  });

  test('the server side: POST /realtime/v1/api/broadcast with the service key, and httpSend', async () => {
    const b = client();
    const got: unknown[] = [];
    const ch = await subscribed(
      b.channel('news').on('broadcast', { event: '*' }, (m) => got.push([m.event, m.payload])),
    );
    const res = await fetch(`${server.url}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: {
        apikey: server.serviceRoleKey,
        authorization: `Bearer ${server.serviceRoleKey}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ messages: [{ topic: 'news', event: 'headline', payload: { title: 'Trellis ships' } }] }),
    });
    expect(res.status).toBe(202);
    await waitFor(() => got.length === 1);
    const sender = supabaseClient(server, server.serviceRoleKey);
    clients.push(sender);
    expect(await sender.channel('news').httpSend('flash', { n: 2 })).toEqual({ success: true });
    await waitFor(() => got.length === 2);
    expect(got).toEqual([
      ['headline', { title: 'Trellis ships' }],
      ['flash', { n: 2 }],
    ]);
    void ch;
  });

  test('the broadcast API refuses a missing apikey and a body of the wrong shape', async () => {
    const none = await fetch(`${server.url}/realtime/v1/api/broadcast`, { method: 'POST', body: '{}' });
    expect(none.status).toBe(401);
    const bad = await fetch(`${server.url}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: { apikey: server.serviceRoleKey, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ topic: 'x' }] }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/event/);
  });

  test('realtime.send from a trigger reaches the room once the transaction commits', async () => {
    const b = client();
    const got: unknown[] = [];
    await subscribed(b.channel('room:lobby').on('broadcast', { event: 'note' }, (m) => got.push(m.payload)));
    const { error } = await client().from('notes').insert({ room: 'lobby', body: 'hello from SQL' });
    expect(error).toBeNull();
    await server.sql.query(`begin; insert into public.notes (room, body) values ('lobby', 'rolled back'); rollback;`);
    await waitFor(() => got.length === 1);
    // A large payload goes through NOTIFY by its id and is read back.
    await server.sql.query(
      `select realtime.send(jsonb_build_object('body', repeat('x', 20000)), 'note', 'room:lobby', false)`,
    );
    await waitFor(() => got.length === 2);
    await sleep(100);
    expect(got[0]).toEqual({ body: 'hello from SQL' });
    expect((got[1] as { body: string }).body).toHaveLength(20000);
  });
});

describe('serializer 1.0.0 through realtime-js', () => {
  test('a vsn 1.0.0 client and a 2.0.0 client share a topic; binary payloads skip the 1.0.0 client', async () => {
    const old = createClient(server.url, server.anonKey, {
      auth: { persistSession: false },
      realtime: { transport: WebSocket as unknown as never, vsn: '1.0.0' },
    });
    clients.push(old);
    const fresh = client();
    const gotOld: unknown[] = [];
    const gotFresh: unknown[] = [];
    const chOld = await subscribed(
      old.channel('vsn-room').on('broadcast', { event: '*' }, (m) => gotOld.push(m.payload)),
    );
    const chFresh = await subscribed(
      fresh.channel('vsn-room').on('broadcast', { event: '*' }, (m) => gotFresh.push(m.payload)),
    );
    await chOld.send({ type: 'broadcast', event: 'e', payload: { from: 'v1' } });
    await chFresh.send({ type: 'broadcast', event: 'e', payload: { from: 'v2' } });
    await chFresh.send({ type: 'broadcast', event: 'e', payload: new Uint8Array([1, 2]).buffer });
    await chFresh.send({ type: 'broadcast', event: 'e', payload: { from: 'v2 again' } });
    await waitFor(() => gotOld.length === 2 && gotFresh.length === 1);
    expect(gotOld).toEqual([{ from: 'v2' }, { from: 'v2 again' }]);
    expect(gotFresh).toEqual([{ from: 'v1' }]);
  });

  test('/metrics counts connections, channels and messages', async () => {
    const text = await (await fetch(`${server.url}/metrics`, { headers: { apikey: server.serviceRoleKey } })).text();
    const value = (name: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(`${name} `))
          ?.split(' ')[1],
      );
    expect(value('trellis_realtime_connections')).toBeGreaterThan(0);
    expect(value('trellis_realtime_channels')).toBeGreaterThan(0);
    expect(value('trellis_realtime_messages_in_total')).toBeGreaterThan(0);
    expect(value('trellis_realtime_messages_out_total')).toBeGreaterThan(0);
    expect(text).toMatch(/trellis_realtime_delivery_seconds_bucket\{le="0.005"\} [1-9]/);
  });
});

describe('the Phoenix protocol at the frame level', () => {
  test('serializer 1.0.0 (objects) and 2.0.0 (arrays) interoperate on one topic; heartbeats are answered', async () => {
    const v1 = await RawSocket.open(server.url, server.anonKey, '1.0.0');
    const v2 = await RawSocket.open(server.url, server.anonKey, '2.0.0');
    try {
      const hb = await v1.push(null, 'phoenix', 'heartbeat', {});
      expect(hb).toEqual({ status: 'ok', response: {} });
      const j1 = await v1.join('mixed', { config: { broadcast: { self: false } } });
      const j2 = await v2.join('mixed', { config: {} });
      expect(j1.reply).toEqual({ status: 'ok', response: { postgres_changes: [] } });
      expect(j2.reply.status).toBe('ok');
      v2.send(j2.joinRef, v2.nextRef(), 'realtime:mixed', 'broadcast', {
        type: 'broadcast',
        event: 'e',
        payload: { a: 1 },
      });
      const got = await v1.waitFrame((f) => f[3] === 'broadcast');
      expect(got).toEqual([
        null,
        null,
        'realtime:mixed',
        'broadcast',
        { type: 'broadcast', event: 'e', payload: { a: 1 } },
      ]);
      const left = await v1.push(j1.joinRef, 'realtime:mixed', 'phx_leave', {});
      expect(left.status).toBe('ok');
      await v1.waitFrame((f) => f[3] === 'phx_close' && f[0] === j1.joinRef);
      // After leaving, pushes to the topic are unmatched.
      expect(
        await v1.push(j1.joinRef, 'realtime:mixed', 'broadcast', { type: 'broadcast', event: 'e', payload: {} }),
      ).toEqual({
        status: 'error',
        response: { reason: 'unmatched topic' },
      });
    } finally {
      v1.close();
      v2.close();
    }
  });

  test('the socket needs a valid apikey', async () => {
    await expect(RawSocket.open(server.url, undefined)).rejects.toThrow(/401/);
    await expect(RawSocket.open(server.url, 'not-a-jwt')).rejects.toThrow(/401/);
  });
});
