import { REALTIME_SUBSCRIBE_STATES, type SupabaseClient } from '@supabase/supabase-js';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { closeRealtime, RawSocket, sleep, subscribed, waitFor } from '../../helpers/realtime.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

let server: TestServer;
const clients: SupabaseClient[] = [];
const users: Record<string, { id: string; token: string }> = {};

const client = (token?: string) => {
  const c = supabaseClient(server);
  if (token) void c.realtime.setAuth(token);
  clients.push(c);
  return c;
};

async function mint(claims: Record<string, unknown>, expiresInS: number, secret = server.jwtSecret): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ role: 'authenticated', ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + expiresInS)
    .sign(new TextEncoder().encode(secret));
}

beforeAll(async () => {
  server = await startTestServer({
    migrations: {
      '20240101000000_private_rooms.sql': `
        create table public.room_members (room text not null, user_id uuid not null, primary key (room, user_id));
        alter table public.room_members enable row level security;
        create function public.is_room_member(topic text) returns boolean language sql stable security definer set search_path = '' as $$
          select exists (select 1 from public.room_members m where m.user_id = auth.uid() and 'room:' || m.room = topic)
        $$;
        -- Readers may listen but not send.
        create table public.room_readers (room text not null, user_id uuid not null, primary key (room, user_id));
        alter table public.room_readers enable row level security;
        create function public.is_room_reader(topic text) returns boolean language sql stable security definer set search_path = '' as $$
          select exists (select 1 from public.room_readers r where r.user_id = auth.uid() and 'room:' || r.room = topic)
        $$;
        -- Supabase's documented pattern: members receive and send broadcasts; presence is read-only.
        create policy "members receive" on realtime.messages for select to authenticated
          using (public.is_room_member(realtime.topic()) or public.is_room_reader(realtime.topic()));
        create policy "members send broadcasts" on realtime.messages for insert to authenticated
          with check (public.is_room_member(realtime.topic()) and realtime.messages.extension = 'broadcast');
      `,
    },
  });
  for (const name of ['alice', 'bob', 'carol']) {
    const c = supabaseClient(server);
    const { data, error } = await c.auth.signUp({ email: `${name}@example.com`, password: `${name} password 123` });
    if (error || !data.session) throw error ?? new Error('no session');
    users[name] = { id: data.session.user.id, token: data.session.access_token };
  }
  await server.sql.query(`insert into public.room_members values ('secret', $1)`, [users.alice!.id]);
  await server.sql.query(`insert into public.room_readers values ('secret', $1)`, [users.carol!.id]);
});
afterAll(async () => {
  await closeRealtime(...clients);
  await server.stop();
});

describe('private channels authorised by RLS on realtime.messages', () => {
  test('a member joins and exchanges broadcasts; a non-member and anon are refused', async () => {
    const [a1, a2] = [client(users.alice!.token), client(users.alice!.token)];
    const got: unknown[] = [];
    const publicGot: unknown[] = [];
    const ch1 = await subscribed(a1.channel('room:secret', { config: { private: true } }));
    await subscribed(
      a2
        .channel('room:secret', { config: { private: true } })
        .on('broadcast', { event: 'm' }, (m) => got.push(m.payload)),
    );
    // A public channel of the same name is another topic.
    await subscribed(
      client()
        .channel('room:secret')
        .on('broadcast', { event: 'm' }, (m) => publicGot.push(m.payload)),
    );
    await ch1.send({ type: 'broadcast', event: 'm', payload: { n: 1 } });
    await waitFor(() => got.length === 1);

    await expect(
      subscribed(client(users.bob!.token).channel('room:secret', { config: { private: true } })),
    ).rejects.toThrow('Unauthorized: You do not have permissions to read from this Channel topic: room:secret');
    await expect(subscribed(client().channel('room:secret', { config: { private: true } }))).rejects.toThrow(
      /Unauthorized/,
    );

    // Presence is not writable under these policies.
    expect(await ch1.track({ here: true })).toBe('error');

    // A reader receives but may not send: with ack, the send is refused.
    const readerGot: unknown[] = [];
    const reader = await subscribed(
      client(users.carol!.token)
        .channel('room:secret', { config: { private: true, broadcast: { ack: true } } })
        .on('broadcast', { event: 'm' }, (m) => readerGot.push(m.payload)),
    );
    expect(await reader.send({ type: 'broadcast', event: 'm', payload: { n: 'from reader' } })).toBe('error');
    await ch1.send({ type: 'broadcast', event: 'm', payload: { n: 2 } });
    await waitFor(() => readerGot.length === 1 && got.length === 2);
    expect(readerGot).toEqual([{ n: 2 }]);
    expect(got).toEqual([{ n: 1 }, { n: 2 }]);
    await sleep(100);
    expect(publicGot).toEqual([]);
  });

  test('realtime.send(private => true) and the broadcast API reach private subscribers only, as the policies allow', async () => {
    const got: unknown[] = [];
    const publicGot: unknown[] = [];
    await subscribed(
      client(users.alice!.token)
        .channel('room:secret', { config: { private: true } })
        .on('broadcast', { event: '*' }, (m) => got.push(m.payload)),
    );
    await subscribed(
      client()
        .channel('room:secret')
        .on('broadcast', { event: '*' }, (m) => publicGot.push(m.payload)),
    );
    await server.sql.query(`select realtime.send('{"from":"sql"}'::jsonb, 'e', 'room:secret')`);
    await waitFor(() => got.length === 1);

    const post = (token: string) =>
      fetch(`${server.url}/realtime/v1/api/broadcast`, {
        method: 'POST',
        headers: { apikey: server.anonKey, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          messages: [{ topic: 'room:secret', event: 'e', payload: { from: 'api' }, private: true }],
        }),
      });
    expect((await post(users.alice!.token)).status).toBe(202);
    const refused = await post(users.bob!.token);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { message: string }).message).toBe(
      'You do not have permissions to write to this Channel topic: room:secret',
    );
    expect((await post(server.serviceRoleKey)).status).toBe(202);
    await waitFor(() => got.length === 3);
    await sleep(100);
    expect(got).toEqual([{ from: 'sql' }, { from: 'api' }, { from: 'api' }]);
    expect(publicGot).toEqual([]);
  });
});

describe('tokens', () => {
  test('forged, malformed, expired and role-less tokens are refused with Supabase reasons; no token means the apikey', async () => {
    const raw = await RawSocket.open(server.url, server.anonKey);
    try {
      const reason = async (access_token: unknown) =>
        ((await raw.join('t', { config: {}, access_token })).reply.response as { reason?: string }).reason;
      expect(await reason(await mint({ sub: users.bob!.id }, 60, 'another-secret-with-at-least-32-characters'))).toBe(
        'JwtSignatureError: Failed to validate JWT signature',
      );
      expect(await reason('a.b.c')).toBe('MalformedJWT: The token provided is not a valid JWT');
      expect(await reason(await mint({ sub: users.bob!.id }, -30))).toMatch(
        /^InvalidJWTToken: Token has expired \d+ seconds ago$/,
      );
      const roleless = await new SignJWT({ sub: 'x' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(server.jwtSecret));
      expect(await reason(roleless)).toBe('InvalidJWTToken: Fields `role` and `exp` are required in JWT');
      expect(await reason(await mint({ role: 'postgres' }, 60))).toMatch(
        /^InvalidJWTToken: role "postgres" is not allowed/,
      );
      const ok = await raw.join('t', { config: {} });
      expect(ok.reply.status).toBe('ok');
      // The socket survived every refusal.
      expect(await raw.push(null, 'phoenix', 'heartbeat', {})).toEqual({ status: 'ok', response: {} });
    } finally {
      raw.close();
    }
  });

  test('an expiring token closes the channel with a system message, as Supabase does', async () => {
    const token = await mint({ sub: users.alice!.id }, 2);
    const c = client(token);
    const system: { status: string; message: string }[] = [];
    let closed = false;
    const ch = c.channel('room:secret', { config: { private: true } });
    ch.on('system', {}, (m: { status: string; message: string }) => system.push(m));
    await subscribed(ch);
    ch.subscribe((status) => {
      if (status === REALTIME_SUBSCRIBE_STATES.CLOSED) closed = true;
    });
    await waitFor(() => system.length > 0, 6000, 'the expiry notice');
    expect(system[0]).toMatchObject({
      status: 'error',
      message: expect.stringMatching(/^Token has expired \d+ seconds ago$/),
    });
    await waitFor(() => closed || ch.state === 'closed', 3000, 'the channel to close');
  });

  test('access_token refresh on an open channel: a fresh token keeps it; a token that may not read closes it', async () => {
    const short = await mint({ sub: users.alice!.id }, 3);
    const c = client(short);
    const system: { message: string }[] = [];
    const got: unknown[] = [];
    const ch = c.channel('room:secret', { config: { private: true } });
    ch.on('system', {}, (m: { message: string }) => system.push(m)).on('broadcast', { event: 'x' }, (m) =>
      got.push(m.payload),
    );
    await subscribed(ch);
    await c.realtime.setAuth(await mint({ sub: users.alice!.id }, 600));
    await sleep(4000);
    // Past the first token's expiry, the channel still receives.
    expect(system).toEqual([]);
    await server.sql.query(`select realtime.send('{"still":"here"}'::jsonb, 'x', 'room:secret')`);
    await waitFor(() => got.length === 1);
    // Bob's token cannot read this topic: the refresh closes the channel.
    await c.realtime.setAuth(users.bob!.token);
    await waitFor(() => system.length === 1);
    expect(system[0]!.message).toBe('You no longer have permission to read from this Channel topic: room:secret');
  });
});
