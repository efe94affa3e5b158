/**
 * GoTrue checks a token's signature, expiry and session, not its role: its admin API admits
 * `supabase_admin`, and an admin may give a user any role. The data API, storage and realtime
 * admit only the API roles (the role becomes PostgreSQL's).
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

const mint = async (claims: Record<string, unknown>) => {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + 60)
    .sign(new TextEncoder().encode(server.jwtSecret));
};

test('a supabase_admin token may call the admin API; the data API refuses its role', async () => {
  const token = await mint({ role: 'supabase_admin' });
  const headers = { apikey: server.anonKey, authorization: `Bearer ${token}` };
  const users = await fetch(`${server.url}/auth/v1/admin/users`, { headers });
  expect(users.status).toBe(200);
  expect(await users.json()).toMatchObject({ aud: 'authenticated', users: expect.any(Array) });
  const rest = await fetch(`${server.url}/rest/v1/anything`, { headers });
  expect(rest.status).toBe(401);
  expect(await rest.json()).toMatchObject({ code: 'PGRST301', message: 'role "supabase_admin" is not an API role' });
});

test('a user an admin gave another role still reaches /auth/v1/user with its token', async () => {
  const client = supabaseClient(server);
  const { data } = await client.auth.signUp({ email: 'editor@example.com', password: 'a long password 1' });
  const admin = supabaseClient(server, server.serviceRoleKey);
  expect((await admin.auth.admin.updateUserById(data.user!.id, { role: 'editor' })).error).toBeNull();
  const signedIn = await client.auth.signInWithPassword({ email: 'editor@example.com', password: 'a long password 1' });
  expect(signedIn.error).toBeNull();
  const user = await fetch(`${server.url}/auth/v1/user`, {
    headers: { apikey: server.anonKey, authorization: `Bearer ${signedIn.data.session!.access_token}` },
  });
  expect(user.status).toBe(200);
  expect(await user.json()).toMatchObject({ email: 'editor@example.com', role: 'editor' });
});

test('a token of another role with a bad signature is still refused by auth', async () => {
  const now = Math.floor(Date.now() / 1000);
  const forged = await new SignJWT({ role: 'supabase_admin' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + 60)
    .sign(new TextEncoder().encode('another-secret-of-at-least-32-characters!'));
  const users = await fetch(`${server.url}/auth/v1/admin/users`, {
    headers: { apikey: server.anonKey, authorization: `Bearer ${forged}` },
  });
  expect(users.status).toBe(403);
  expect(await users.json()).toMatchObject({ error_code: 'bad_jwt' });
});
