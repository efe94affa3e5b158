/**
 * The OAuth 2.1 authorization server end to end: a client registered with `admin.oauth`, the
 * browser redirect of /oauth/authorize, the consent the signed-in user gives through supabase-js
 * (`auth.oauth.getAuthorizationDetails` / `approveAuthorization` / `denyAuthorization`), and the
 * client's code and refresh grants at /oauth/token, with what a forged or replayed one gets.
 */
import crypto from 'node:crypto';
import type { SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

const REDIRECT = 'http://localhost:3000/cb';
let server: TestServer;
let user: SupabaseClient;
let client: { id: string; secret: string };
let publicClientId: string;

beforeAll(async () => {
  server = await startTestServer({
    env: { AUTH_OAUTH_SERVER_ENABLED: 'true', AUTH_SITE_URL: 'http://localhost:3000', AUTH_RATE_LIMIT_VERIFY: '1000' },
  });
  const admin = supabaseClient(server, server.serviceRoleKey);
  const made = await admin.auth.admin.oauth.createClient({ client_name: 'Notes', redirect_uris: [REDIRECT] });
  client = { id: made.data?.client_id as string, secret: made.data?.client_secret as string };
  const spa = await admin.auth.admin.oauth.createClient({
    client_name: 'SPA',
    redirect_uris: [REDIRECT],
    client_type: 'public',
  } as never);
  publicClientId = spa.data?.client_id as string;
  user = supabaseClient(server);
  const { error } = await user.auth.signUp({ email: 'oauth@example.com', password: 'oauth password' });
  if (error) throw error;
});
afterAll(async () => {
  await server?.stop();
});

const pkce = () => {
  const verifier = crypto.randomBytes(32).toString('base64url');
  return { verifier, challenge: crypto.createHash('sha256').update(verifier).digest('base64url') };
};

async function authorize(params: Record<string, string>) {
  const res = await fetch(`${server.url}/auth/v1/oauth/authorize?${new URLSearchParams(params)}`, {
    redirect: 'manual',
  });
  return {
    status: res.status,
    location: res.headers.get('location') ?? '',
    body: res.status === 302 ? undefined : await res.json(),
  };
}

async function startFlow(clientId = client.id, scope = 'email') {
  const { verifier, challenge } = pkce();
  const res = await authorize({
    client_id: clientId,
    redirect_uri: REDIRECT,
    response_type: 'code',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'st4te',
    scope,
  });
  expect(res.status).toBe(302);
  const consentPage = new URL(res.location);
  expect(consentPage.origin + consentPage.pathname).toBe('http://localhost:3000/oauth/consent');
  return { authorizationId: consentPage.searchParams.get('authorization_id') as string, verifier };
}

async function token(form: Record<string, string>, basic: { id: string; secret: string } | null = client) {
  const res = await fetch(`${server.url}/auth/v1/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(basic ? { authorization: `Basic ${Buffer.from(`${basic.id}:${basic.secret}`).toString('base64')}` } : {}),
    },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function approvedCode(clientId = client.id) {
  const flow = await startFlow(clientId);
  const details = await user.auth.oauth.getAuthorizationDetails(flow.authorizationId);
  expect(details.error).toBeNull();
  const data = details.data as { redirect_url?: string };
  const redirect =
    data.redirect_url ??
    (
      (await user.auth.oauth.approveAuthorization(flow.authorizationId, { skipBrowserRedirect: true })).data as {
        redirect_url: string;
      }
    ).redirect_url;
  const url = new URL(redirect);
  expect(url.searchParams.get('state')).toBe('st4te');
  return { code: url.searchParams.get('code') as string, verifier: flow.verifier };
}

describe('authorization code flow', () => {
  test('consent, code, tokens that are the user’s, refresh', async () => {
    const flow = await startFlow();
    const details = await user.auth.oauth.getAuthorizationDetails(flow.authorizationId);
    expect(details.data).toMatchObject({
      authorization_id: flow.authorizationId,
      client: { id: client.id, name: 'Notes' },
      user: { email: 'oauth@example.com' },
      scope: 'email',
    });
    const approved = await user.auth.oauth.approveAuthorization(flow.authorizationId, { skipBrowserRedirect: true });
    const code = new URL((approved.data as { redirect_url: string }).redirect_url).searchParams.get('code') as string;
    const tokens = await token({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      code_verifier: flow.verifier,
    });
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({ token_type: 'bearer', refresh_token: expect.any(String) });
    const me = await fetch(`${server.url}/auth/v1/user`, {
      headers: { apikey: server.anonKey, authorization: `Bearer ${tokens.body.access_token as string}` },
    });
    expect(((await me.json()) as { email: string }).email).toBe('oauth@example.com');
    const { rows } = await server.sql.query('select count(*)::int as n from auth.sessions where oauth_client_id = $1', [
      client.id,
    ]);
    expect(rows[0]?.n).toBeGreaterThanOrEqual(1);
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(tokens.body.refresh_token);
    // The code worked once.
    const again = await token({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      code_verifier: flow.verifier,
    });
    expect(again).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  test('a consent already given is not asked again', async () => {
    const flow = await startFlow();
    const details = await user.auth.oauth.getAuthorizationDetails(flow.authorizationId);
    expect((details.data as { redirect_url?: string }).redirect_url).toContain('code=');
  });

  test('deny sends the client access_denied', async () => {
    const other = supabaseClient(server);
    await other.auth.signUp({ email: 'deny@example.com', password: 'deny password' });
    const flow = await startFlow();
    const denied = await other.auth.oauth.denyAuthorization(flow.authorizationId, { skipBrowserRedirect: true });
    const url = new URL((denied.data as { redirect_url: string }).redirect_url);
    expect(url.searchParams.get('error')).toBe('access_denied');
    expect(url.searchParams.get('state')).toBe('st4te');
  });

  test('a public client authenticates with its id alone, PKCE doing the rest', async () => {
    const { code, verifier } = await approvedCode(publicClientId);
    const tokens = await token(
      { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: publicClientId },
      null,
    );
    expect(tokens.status).toBe(200);
  });
});

describe('grants', () => {
  test('the user lists the clients they consented to, and revoking one ends its sessions', async () => {
    const { code, verifier } = await approvedCode();
    const tokens = await token({ grant_type: 'authorization_code', code, code_verifier: verifier });
    expect(tokens.status).toBe(200);
    const { data, error } = await user.auth.oauth.listGrants();
    expect(error).toBeNull();
    expect(data).toContainEqual(
      expect.objectContaining({ client: expect.objectContaining({ id: client.id, name: 'Notes' }), scopes: ['email'] }),
    );
    expect((await user.auth.oauth.revokeGrant({ clientId: client.id })).error).toBeNull();
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string });
    expect(refreshed).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await user.auth.oauth.listGrants()).data?.map((g) => g.client.id)).not.toContain(client.id);
    const again = await user.auth.oauth.revokeGrant({ clientId: client.id });
    expect(again.error).toMatchObject({ status: 404, code: 'oauth_consent_not_found' });
  });
});

describe('refusals', () => {
  test.each([
    ['a wrong verifier', (v: string) => ({ code_verifier: `${v}x` })],
    ['no verifier', () => ({ code_verifier: '' })],
    ['another redirect_uri', () => ({ redirect_uri: 'http://localhost:3000/other' })],
  ])('%s is invalid_grant, and spends the code', async (_name, change) => {
    const { code, verifier } = await approvedCode();
    const bad = await token({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
      ...change(verifier),
    });
    expect(bad).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const good = await token({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    });
    expect(good.body.error).toBe('invalid_grant');
  });

  test('a wrong secret, an unknown client, a public client posing as confidential: 401 invalid_client', async () => {
    const { code, verifier } = await approvedCode();
    const form = { grant_type: 'authorization_code', code, code_verifier: verifier };
    expect(await token(form, { id: client.id, secret: 'wrong' })).toMatchObject({
      status: 401,
      body: { error: 'invalid_client' },
    });
    expect(await token(form, { id: crypto.randomUUID(), secret: 'x' })).toMatchObject({ status: 401 });
    expect(await token({ ...form, client_id: client.id }, null)).toMatchObject({ status: 401 });
  });

  test('a refresh token of a user session is invalid_client (GoTrue)', async () => {
    const session = (await user.auth.getSession()).data.session;
    expect(await token({ grant_type: 'refresh_token', refresh_token: session?.refresh_token as string })).toMatchObject(
      {
        status: 400,
        body: { error: 'invalid_client' },
      },
    );
  });

  test.each([
    ['no grant_type', {}, 'invalid_request'],
    ['an unknown grant', { grant_type: 'password' }, 'unsupported_grant_type'],
    ['no code', { grant_type: 'authorization_code' }, 'invalid_request'],
    ['a NUL in the code', { grant_type: 'authorization_code', code: 'a\u0000b', code_verifier: 'x' }, 'invalid_grant'],
    [
      'a huge code',
      { grant_type: 'authorization_code', code: 'c'.repeat(100_000), code_verifier: 'x' },
      'invalid_grant',
    ],
  ])('%s', async (_name, form, error) => {
    const res = await token(form);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(error);
  });

  test('authorize: an unknown client or redirect is answered, not redirected; other problems go to the client', async () => {
    const { challenge } = pkce();
    const base = {
      client_id: client.id,
      redirect_uri: REDIRECT,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    };
    expect((await authorize({ ...base, client_id: crypto.randomUUID() })).status).toBe(400);
    expect((await authorize({ ...base, client_id: 'nope' })).status).toBe(400);
    expect((await authorize({ ...base, redirect_uri: 'https://evil.example/cb' })).status).toBe(400);
    for (const bad of [
      { code_challenge: '' } as Record<string, string>,
      { code_challenge_method: 'md5' },
      { scope: 'admin' },
      { response_type: 'token' },
    ]) {
      const res = await authorize({ ...base, ...bad, state: 's' });
      expect(res.status).toBe(302);
      const url = new URL(res.location);
      expect(url.origin + url.pathname).toBe(REDIRECT);
      expect(url.searchParams.get('error')).toBe('invalid_request');
      expect(url.searchParams.get('state')).toBe('s');
    }
  });

  test('an authorization belongs to the first user who opens it; a forged token is 403', async () => {
    const flow = await startFlow();
    expect((await user.auth.oauth.getAuthorizationDetails(flow.authorizationId)).error).toBeNull();
    const other = supabaseClient(server);
    await other.auth.signUp({ email: 'thief@example.com', password: 'thief password' });
    const stolen = await other.auth.oauth.getAuthorizationDetails(flow.authorizationId);
    expect(stolen.error).toMatchObject({ status: 404, code: 'oauth_authorization_not_found' });
    const forged = await fetch(`${server.url}/auth/v1/oauth/authorizations/${flow.authorizationId}`, {
      headers: { apikey: server.anonKey, authorization: 'Bearer x.y.z' },
    });
    expect(forged.status).toBe(403);
  });
});
