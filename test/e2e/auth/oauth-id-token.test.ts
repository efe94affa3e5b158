/**
 * signInWithIdToken (`grant_type=id_token`) through supabase-js, with ID tokens signed by the key a
 * real OpenID provider (oidc-provider, on loopback) publishes in its JWKS, standing in for Google
 * and for a multi-tenant Azure (its `url` names no tenant).
 */
import crypto from 'node:crypto';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { freePort } from '../../helpers/cli.js';
import { startOidcServer, type OidcServer } from '../../helpers/oauth.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let oidc: OidcServer;

beforeAll(async () => {
  const oidcPort = await freePort();
  const issuer = `http://127.0.0.1:${oidcPort}`;
  server = await startTestServer({
    env: {
      // No secret: an app that only sends ID tokens has none.
      AUTH_EXTERNAL_GOOGLE_ENABLED: 'true',
      AUTH_EXTERNAL_GOOGLE_CLIENT_ID: 'google-web,google-ios',
      AUTH_EXTERNAL_GOOGLE_URL: issuer,
      AUTH_EXTERNAL_ACME_ENABLED: 'true',
      AUTH_EXTERNAL_ACME_CLIENT_ID: 'acme-app',
      AUTH_EXTERNAL_ACME_SKIP_NONCE_CHECK: 'true',
      AUTH_EXTERNAL_ACME_URL: issuer,
      // An issuer that names no tenant: Azure's multi-tenant rules apply.
      AUTH_EXTERNAL_AZURE_ENABLED: 'true',
      AUTH_EXTERNAL_AZURE_CLIENT_ID: 'azure-app',
      AUTH_EXTERNAL_AZURE_URL: issuer,
    },
  });
  oidc = await startOidcServer({ port: oidcPort, clientId: 'unused', clientSecret: 'unused', redirectUris: [] });
}, 60_000);

afterAll(async () => {
  await oidc?.stop();
  await server?.stop();
});

const client = (): SupabaseClient =>
  createClient(server.url, server.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket as unknown as never },
  });
const hashed = (nonce: string) => crypto.createHash('sha256').update(nonce).digest('hex');
const claims = (sub: string, extra: Record<string, unknown> = {}) => ({
  sub,
  aud: 'google-web',
  email: `${sub}@example.com`,
  email_verified: true,
  name: `User ${sub}`,
  ...extra,
});

describe('a good ID token', () => {
  test('signs a new user in, with the hashed nonce checked', async () => {
    const token = await oidc.signIdToken(claims('gina', { nonce: hashed('raw-nonce') }));
    const { data, error } = await client().auth.signInWithIdToken({ provider: 'google', token, nonce: 'raw-nonce' });
    expect(error).toBeNull();
    expect(data.user?.email).toBe('gina@example.com');
    expect(data.user?.app_metadata).toMatchObject({ provider: 'google', providers: ['google'] });
    expect(data.user?.identities?.[0]).toMatchObject({ provider: 'google', id: 'gina' });
    expect(data.user?.user_metadata).toMatchObject({ name: 'User gina', email: 'gina@example.com' });
    // The same identity again: the same user.
    const again = await client().auth.signInWithIdToken({
      provider: 'google',
      token: await oidc.signIdToken(claims('gina')),
    });
    expect(again.data.user?.id).toBe(data.user?.id);
  });

  test('any of the client ids is an acceptable audience', async () => {
    const token = await oidc.signIdToken(claims('ios-user', { aud: 'google-ios' }));
    expect((await client().auth.signInWithIdToken({ provider: 'google', token })).error).toBeNull();
  });

  test('a generic provider, custom:<name>, with its nonce check off', async () => {
    const token = await oidc.signIdToken(claims('acme-user', { aud: 'acme-app', nonce: 'whatever' }));
    const { data, error } = await client().auth.signInWithIdToken({ provider: 'custom:acme', token });
    expect(error).toBeNull();
    expect(data.user?.identities?.[0]?.provider).toBe('custom:acme');
  });
});

describe('multi-tenant Azure', () => {
  const azure = (sub: string, extra: Record<string, unknown>) =>
    oidc.signIdToken({ sub, aud: 'azure-app', name: `User ${sub}`, ...extra });

  test('an address, even one Azure vouches for (xms_edov), never links to the user who holds it', async () => {
    const owner = await client().auth.signUp({ email: 'victim@example.com', password: 'password-1' });
    expect(owner.error).toBeNull();
    const token = await azure('other-tenant-user', { email: 'victim@example.com', xms_edov: true });
    const { data, error } = await client().auth.signInWithIdToken({ provider: 'azure', token });
    expect(error).toBeNull();
    expect(data.user?.id).not.toBe(owner.data.user?.id);
    expect(data.user?.email).toBe('');
    const identities = await server.sql.query('select provider from auth.identities where user_id = $1', [
      owner.data.user?.id,
    ]);
    expect(identities.rows).toEqual([{ provider: 'email' }]);
  });

  test('without xms_edov the address counts as unverified', async () => {
    const token = await azure('no-edov', { email: 'newcomer@example.com' });
    const { data, error } = await client().auth.signInWithIdToken({ provider: 'azure', token });
    expect(error).toBeNull();
    expect(data.user?.email).toBe('newcomer@example.com');
    expect(data.user?.identities?.[0]?.identity_data).toMatchObject({ email_verified: false });
  });
});

describe('a bad ID token is refused with GoTrue’s 400', () => {
  test.each<[string, () => Promise<string>, string | undefined, string]>([
    [
      'wrong audience',
      () => oidc.signIdToken(claims('a1', { aud: 'someone-else' })),
      undefined,
      'Unacceptable audience in id_token: [someone-else]',
    ],
    ['wrong nonce', () => oidc.signIdToken(claims('a2', { nonce: hashed('other') })), 'raw', 'Nonces mismatch'],
    [
      'a nonce given, none in the token',
      () => oidc.signIdToken(claims('a3')),
      'raw',
      'Passed nonce and nonce in id_token should either both exist or not.',
    ],
    [
      'a nonce in the token, none given',
      () => oidc.signIdToken(claims('a4', { nonce: hashed('raw') })),
      undefined,
      'Passed nonce and nonce in id_token should either both exist or not.',
    ],
    [
      'the raw nonce in the token (not its hash)',
      () => oidc.signIdToken(claims('a5', { nonce: 'raw' })),
      'raw',
      'Nonces mismatch',
    ],
    [
      'a key the provider never published',
      () => oidc.signIdToken(claims('a6'), { foreignKey: true }),
      undefined,
      'Bad ID token',
    ],
    ['expired', () => oidc.signIdToken(claims('a7'), { expiresIn: '-10m' }), undefined, 'Bad ID token'],
    [
      'another issuer',
      () => oidc.signIdToken(claims('a8', { iss: 'https://evil.example' })),
      undefined,
      'Bad ID token',
    ],
    ['not a JWT', async () => 'not.a.jwt', undefined, 'Bad ID token'],
    [
      'alg none',
      async () =>
        `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims('a9'))).toString('base64url')}.`,
      undefined,
      'Bad ID token',
    ],
  ])('%s', async (_name, make, nonce, message) => {
    const token = await make();
    const { data, error } = await client().auth.signInWithIdToken({
      provider: 'google',
      token,
      ...(nonce ? { nonce } : {}),
    });
    expect(data.session).toBeNull();
    expect({ status: error?.status, message: error?.message }).toEqual({ status: 400, message });
  });

  test('the body is GoTrue’s OAuth error shape', async () => {
    const response = await fetch(`${server.url}/auth/v1/token?grant_type=id_token`, {
      method: 'POST',
      headers: { apikey: server.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify({
        provider: 'google',
        id_token: await oidc.signIdToken(claims('shape'), { foreignKey: true }),
      }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'invalid request', error_description: 'Bad ID token' });
  });
});

describe('bad requests', () => {
  const grant = async (body: string) => {
    const response = await fetch(`${server.url}/auth/v1/token?grant_type=id_token`, {
      method: 'POST',
      headers: { apikey: server.anonKey, 'content-type': 'application/json' },
      body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  test.each([
    ['{"provider":"google"', 400, 'bad_json'],
    ['{"provider":"google","id_token":5}', 400, 'validation_failed'],
    [JSON.stringify({ provider: 'google', id_token: 'x'.repeat(20_000) }), 400, 'validation_failed'],
    ['{"provider":"google"}', 400, 'validation_failed'],
    [JSON.stringify({ provider: 'google\u0000', id_token: 'a.b.c' }), 400, 'validation_failed'],
    [JSON.stringify({ provider: 'facebook', id_token: 'a.b.c' }), 400, 'provider_disabled'],
    [JSON.stringify({ provider: 'custom:nope', id_token: 'a.b.c' }), 400, 'validation_failed'],
    [JSON.stringify({ provider: 'google', id_token: 'a.b.c', link_identity: true }), 400, 'validation_failed'],
  ])('%s', async (body, status, code) => {
    const answer = await grant(body);
    expect({ status: answer.status, code: answer.body.error_code }).toEqual({ status, code });
  });

  test('the redirect flow of a provider without a secret says so', async () => {
    const response = await fetch(`${server.url}/auth/v1/authorize?provider=google`, { redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ msg: 'Unsupported provider: missing OAuth secret' });
  });
});
