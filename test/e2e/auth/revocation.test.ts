/**
 * AUTH_SESSION_CHECK_SECONDS: once a session is gone (sign-out, a deleted user), its access token
 * stops on every API within moments, not when it expires. The cache is set long (60 s) so that only
 * the NOTIFY path can make these tests pass in time. Without the setting, Supabase's behaviour: the
 * token is good until it expires.
 */
import type { RealtimeChannel, SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { closeRealtime, subscribed, waitFor } from '../../helpers/realtime.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

const MIGRATION = {
  '20240101000000_notes.sql': `
    create table public.notes (id bigint generated always as identity primary key, body text not null);
    alter table public.notes enable row level security;
    create policy "signed-in users read" on public.notes for select to authenticated using (true);
    grant select on public.notes to authenticated;
    insert into public.notes (body) values ('hello');
    insert into storage.buckets (id, name) values ('files', 'files');
    create policy "signed-in users upload" on storage.objects for insert to authenticated with check (bucket_id = 'files');
    create policy "signed-in users see files" on storage.objects for select to authenticated using (bucket_id = 'files');
  `,
};

const clients: SupabaseClient[] = [];

async function signUp(
  server: TestServer,
  email: string,
): Promise<{ id: string; token: string; client: SupabaseClient }> {
  const client = supabaseClient(server);
  clients.push(client);
  const { data, error } = await client.auth.signUp({ email, password: 'a long password 123' });
  if (error || !data.session) throw error ?? new Error('no session');
  return { id: data.session.user.id, token: data.session.access_token, client };
}

/** The three APIs a stolen or revoked token would reach, each called with `token` as a client would. */
async function reach(server: TestServer, token: string) {
  const headers = { apikey: server.anonKey, authorization: `Bearer ${token}` };
  const rest = await fetch(`${server.url}/rest/v1/notes?select=body`, { headers });
  const upload = await fetch(`${server.url}/storage/v1/object/files/${crypto.randomUUID()}.txt`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'text/plain' },
    body: 'bytes',
  });
  return {
    rest: rest.status,
    restBody: (await rest.json()) as Record<string, unknown>,
    upload: upload.status,
    uploadBody: (await upload.json()) as Record<string, unknown>,
  };
}

function joinWith(
  server: TestServer,
  token: string,
  topic: string,
): { client: SupabaseClient; channel: RealtimeChannel; closed: () => boolean } {
  const client = supabaseClient(server);
  clients.push(client);
  void client.realtime.setAuth(token);
  let closed = false;
  const channel = client.channel(topic);
  channel.on('system', {}, (payload: { status?: string }) => {
    if (payload.status === 'error') closed = true;
  });
  return { client, channel, closed: () => closed };
}

describe('with the session check on', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ migrations: MIGRATION, env: { AUTH_SESSION_CHECK_SECONDS: '60' } });
  });
  afterAll(async () => {
    await closeRealtime(...clients);
    await server.stop();
  });

  test('a live session reaches REST, storage and realtime', async () => {
    const ada = await signUp(server, 'ada@example.com');
    const now = await reach(server, ada.token);
    expect(now.rest).toBe(200);
    expect(now.restBody).toEqual([{ body: 'hello' }]);
    expect(now.uploadBody).toMatchObject({ Key: expect.stringMatching(/^files\//) });
    expect(now.upload).toBe(200);
    await subscribed(joinWith(server, ada.token, 'room:live').channel);
  });

  test('after a global sign-out the token is refused everywhere and its open channel is closed', async () => {
    const bob = await signUp(server, 'bob@example.com');
    const open = joinWith(server, bob.token, 'room:bob');
    await subscribed(open.channel);
    expect((await reach(server, bob.token)).rest).toBe(200);

    const startedAt = Date.now();
    expect((await bob.client.auth.signOut({ scope: 'global' })).error).toBeNull();
    await waitFor(() => open.closed(), 5000, 'the open channel to close');
    const after = await reach(server, bob.token);
    expect(Date.now() - startedAt).toBeLessThan(5000);
    expect(after.rest).toBe(401);
    expect(after.restBody).toMatchObject({
      code: 'PGRST301',
      message: 'JWT invalid: session from session_id claim in JWT does not exist',
    });
    expect(after.upload).toBe(400);
    expect(after.uploadBody).toMatchObject({
      error: 'InvalidJWT',
      message: 'session from session_id claim in JWT does not exist',
    });
    // A new join with the revoked token is refused with Realtime's wording.
    const again = joinWith(server, bob.token, 'room:again');
    await expect(subscribed(again.channel, 5000)).rejects.toThrow(
      /Session from session_id claim in JWT does not exist/,
    );
    // And auth itself (GoTrue) says the session is gone.
    const user = await fetch(`${server.url}/auth/v1/user`, {
      headers: { apikey: server.anonKey, authorization: `Bearer ${bob.token}` },
    });
    expect(user.status).toBe(403);
    expect(await user.json()).toMatchObject({ error_code: 'session_not_found' });
  });

  test('a user deleted by an admin loses access at once; other users keep theirs', async () => {
    const carol = await signUp(server, 'carol@example.com');
    const dave = await signUp(server, 'dave@example.com');
    expect((await reach(server, carol.token)).rest).toBe(200);
    const admin = supabaseClient(server, server.serviceRoleKey);
    expect((await admin.auth.admin.deleteUser(carol.id)).error).toBeNull();
    const deadline = Date.now() + 3000;
    let status = 200;
    while (Date.now() < deadline && status === 200) status = (await reach(server, carol.token)).rest;
    expect(status).toBe(401);
    expect((await reach(server, dave.token)).rest).toBe(200);
  });

  test('a token naming a session id that is not a uuid is refused, and the server stays healthy', async () => {
    const { SignJWT } = await import('jose');
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({
      role: 'authenticated',
      sub: crypto.randomUUID(),
      session_id: "x'; drop table auth.sessions; --\u0000",
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(new TextEncoder().encode(server.jwtSecret));
    const result = await reach(server, forged);
    expect(result.rest).toBe(401);
    expect(result.upload).toBe(400);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    expect((await server.sql.query('select count(*)::int as n from auth.sessions')).rows[0].n).toBeGreaterThan(0);
  });
});

describe('with the session check off (the default, as on Supabase)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ migrations: MIGRATION });
  });
  afterAll(async () => {
    await server.stop();
  });

  test('a signed-out token still reads until it expires; only /auth refuses it', async () => {
    const eve = await signUp(server, 'eve@example.com');
    expect((await eve.client.auth.signOut({ scope: 'global' })).error).toBeNull();
    const after = await reach(server, eve.token);
    expect(after.rest).toBe(200);
    expect(after.upload).toBe(200);
    const user = await fetch(`${server.url}/auth/v1/user`, {
      headers: { apikey: server.anonKey, authorization: `Bearer ${eve.token}` },
    });
    expect(user.status).toBe(403);
  });
});
