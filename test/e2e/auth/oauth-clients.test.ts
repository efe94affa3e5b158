/**
 * The OAuth 2.1 server's client registry through supabase-js (`auth.admin.oauth.*`) and RFC 7591
 * dynamic registration: create, list, get, update, regenerate, delete, with GoTrue's answers to
 * bad input and to the feature being off.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let admin: SupabaseClient;

beforeAll(async () => {
  server = await startTestServer({
    env: { AUTH_OAUTH_SERVER_ENABLED: 'true', AUTH_OAUTH_SERVER_ALLOW_DYNAMIC_REGISTRATION: 'true' },
  });
  admin = supabaseClient(server, server.serviceRoleKey);
});
afterAll(async () => {
  await server?.stop();
});

async function raw(method: string, path: string, body?: string, key = server.serviceRoleKey) {
  const res = await fetch(`${server.url}/auth/v1${path}`, {
    method,
    headers: { apikey: key, authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

describe('lifecycle', () => {
  test('create shows the secret once; get, update, regenerate, delete', async () => {
    const { data, error } = await admin.auth.admin.oauth.createClient({
      client_name: 'Notes',
      redirect_uris: ['https://notes.example/callback', 'http://localhost:3000/cb'],
      client_uri: 'https://notes.example',
    });
    expect(error).toBeNull();
    expect(data).toMatchObject({
      client_name: 'Notes',
      client_type: 'confidential',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      registration_type: 'manual',
      redirect_uris: ['https://notes.example/callback', 'http://localhost:3000/cb'],
    });
    const id = data?.client_id as string;
    const secret = data?.client_secret as string;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Only the secret's hash is kept.
    const { rows } = await server.sql.query('select client_secret_hash from auth.oauth_clients where id = $1', [id]);
    expect(rows[0]?.client_secret_hash).not.toContain(secret);

    const got = await admin.auth.admin.oauth.getClient(id);
    expect(got.data?.client_id).toBe(id);
    expect(got.data).not.toHaveProperty('client_secret');

    const updated = await admin.auth.admin.oauth.updateClient(id, { logo_uri: 'https://notes.example/logo.png' });
    expect(updated.data).toMatchObject({ client_name: 'Notes', logo_uri: 'https://notes.example/logo.png' });

    const regenerated = await admin.auth.admin.oauth.regenerateClientSecret(id);
    expect(regenerated.data?.client_secret).toEqual(expect.any(String));
    expect(regenerated.data?.client_secret).not.toBe(secret);

    expect((await admin.auth.admin.oauth.deleteClient(id)).error).toBeNull();
    const gone = await admin.auth.admin.oauth.getClient(id);
    expect(gone.error).toMatchObject({ status: 404, code: 'oauth_client_not_found' });
    const listed = await admin.auth.admin.oauth.listClients();
    expect(listed.data?.clients.map((c) => c.client_id)).not.toContain(id);
  });

  test('list pages with per_page and x-total-count', async () => {
    for (let i = 0; i < 3; i++)
      await admin.auth.admin.oauth.createClient({ client_name: `c${i}`, redirect_uris: ['https://c.example/cb'] });
    const page = await admin.auth.admin.oauth.listClients({ page: 1, perPage: 2 });
    expect(page.data?.clients).toHaveLength(2);
    const pagination = page.data as unknown as { total: number; nextPage: number | null };
    expect(pagination.total).toBeGreaterThanOrEqual(3);
    expect(pagination.nextPage).toBe(2);
  });

  test('a public client has no secret and cannot regenerate one', async () => {
    const { data } = await admin.auth.admin.oauth.createClient({
      client_name: 'SPA',
      redirect_uris: ['https://spa.example/cb'],
      client_type: 'public',
    } as never);
    expect(data).toMatchObject({ client_type: 'public', token_endpoint_auth_method: 'none' });
    expect(data).not.toHaveProperty('client_secret');
    const { error } = await admin.auth.admin.oauth.regenerateClientSecret(data?.client_id as string);
    expect(error).toMatchObject({ status: 400, code: 'validation_failed' });
  });

  test('dynamic registration (RFC 7591) registers a dynamic client', async () => {
    const res = await raw(
      'POST',
      '/oauth/clients/register',
      JSON.stringify({ client_name: 'CLI', redirect_uris: ['http://127.0.0.1:8910/cb'] }),
      server.anonKey,
    );
    expect(res).toMatchObject({ status: 201, body: { registration_type: 'dynamic', client_name: 'CLI' } });
  });
});

describe('bad input', () => {
  test.each([
    ['no redirect_uris', {}, 'redirect_uris is required'],
    ['empty redirect_uris', { redirect_uris: [] }, 'redirect_uris is required'],
    [
      'plain http to another host',
      { redirect_uris: ['http://evil.example/cb'] },
      'HTTP scheme only allowed for localhost',
    ],
    ['a javascript: uri', { redirect_uris: ['javascript:alert(1)'] }, "scheme 'javascript' is not allowed"],
    ['a fragment', { redirect_uris: ['https://a.example/cb#x'] }, 'fragment not allowed'],
    [
      'eleven uris',
      { redirect_uris: Array.from({ length: 11 }, (_, i) => `https://a.example/${i}`) },
      'cannot exceed 10',
    ],
    [
      'an unknown grant',
      { redirect_uris: ['https://a.example/cb'], grant_types: ['password'] },
      'grant_types must only',
    ],
    ['a huge name', { redirect_uris: ['https://a.example/cb'], client_name: 'n'.repeat(1025) }, 'cannot exceed 1024'],
    ['a NUL in the name', { redirect_uris: ['https://a.example/cb'], client_name: 'a\u0000b' }, 'NUL'],
    [
      'a logo that is no URL',
      { redirect_uris: ['https://a.example/cb'], logo_uri: 'not a url' },
      'logo_uri must be a valid URL',
    ],
    ['a wrong type', { redirect_uris: 'https://a.example/cb' }, 'redirect_uris'],
    ['an unknown client type', { redirect_uris: ['https://a.example/cb'], client_type: 'x' }, 'client_type must be'],
  ])('%s is 400 validation_failed', async (_name, body, message) => {
    const { data, error } = await admin.auth.admin.oauth.createClient(body as never);
    expect(data).toBeNull();
    expect(error).toMatchObject({ status: 400, code: 'validation_failed' });
    expect(error?.message).toContain(message);
  });

  test('malformed JSON is bad_json; an empty update is validation_failed; ids that are no uuid', async () => {
    expect(await raw('POST', '/admin/oauth/clients', '{"client_name":')).toMatchObject({
      status: 400,
      body: { error_code: 'bad_json' },
    });
    const { data } = await admin.auth.admin.oauth.createClient({
      client_name: 'u',
      redirect_uris: ['https://u.example/cb'],
    });
    expect(await raw('PUT', `/admin/oauth/clients/${data?.client_id}`, '{}')).toMatchObject({
      status: 400,
      body: { msg: 'No fields provided for update' },
    });
    expect((await raw('GET', '/admin/oauth/clients/not-a-uuid')).status).toBe(400);
    expect((await raw('GET', '/admin/oauth/clients/00000000-0000-0000-0000-000000000000')).status).toBe(404);
  });

  test('the anon key and forged tokens are not admins', async () => {
    expect(await raw('GET', '/admin/oauth/clients', undefined, server.anonKey)).toMatchObject({
      status: 403,
      body: { error_code: 'not_admin' },
    });
    const forged = await fetch(`${server.url}/auth/v1/admin/oauth/clients`, {
      headers: { apikey: server.anonKey, authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.' },
    });
    expect(forged.status).toBe(403);
  });
});

test('with the OAuth server off (the default): 404 feature_disabled, after the admin check', async () => {
  const off = await startTestServer();
  try {
    const offAdmin = supabaseClient(off, off.serviceRoleKey);
    const { error } = await offAdmin.auth.admin.oauth.listClients();
    expect(error).toMatchObject({ status: 404, code: 'feature_disabled', message: 'OAuth server is disabled' });
    const anon = await fetch(`${off.url}/auth/v1/admin/oauth/clients`, {
      headers: { apikey: off.anonKey, authorization: `Bearer ${off.anonKey}` },
    });
    expect(anon.status).toBe(403);
  } finally {
    await off.stop();
  }
});
