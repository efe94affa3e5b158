/**
 * Where Trellis answered differently from GoTrue (issue 13's "cheap differences"), pinned through
 * supabase-js: the same status, error code and message an app sees on Supabase, and GoTrue's own
 * refusals for the features Trellis does not offer.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let admin: SupabaseClient;
const client = (): SupabaseClient => supabaseClient(server);

beforeAll(async () => {
  server = await startTestServer({
    env: { AUTH_RATE_LIMIT_SIGN_IN: '2', AUTH_RATE_LIMIT_TOKEN_PASSWORD: '4', AUTH_ANONYMOUS_SIGN_INS: 'true' },
  });
  admin = supabaseClient(server, server.serviceRoleKey);
  for (const name of ['una', 'vic']) {
    const { error } = await admin.auth.admin.createUser({
      email: `${name}@example.com`,
      password: `${name} password`,
      email_confirm: true,
    });
    if (error) throw error;
  }
});
afterAll(async () => {
  await server?.stop();
});

/** A raw request to /auth/v1, for what supabase-js cannot send (no token, a broken body). */
async function call(method: string, path: string, init: { body?: string; token?: string } = {}) {
  const headers: Record<string, string> = { apikey: server.anonKey, 'content-type': 'application/json' };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  const res = await fetch(`${server.url}/auth/v1${path}`, { method, headers, body: init.body });
  return { status: res.status, body: (await res.json()) as { code?: string; error_code?: string; msg?: string } };
}

async function signedIn(email: string, password: string): Promise<SupabaseClient> {
  const supabase = client();
  const { error } = await supabase.auth.signInWithPassword({ email, password });
  if (error) throw error;
  return supabase;
}

const expectError = (
  error: { status?: number; code?: string; message: string } | null,
  status: number,
  code: string,
  message: string,
) => expect({ status: error?.status, code: error?.code, message: error?.message }).toEqual({ status, code, message });

describe('a malformed email address', () => {
  test.each(['no-at-sign', 'two@@example.com', 'spaced out@example.com'])(
    '%j is validation_failed, in GoTrue words',
    async (email) => {
      const { error } = await client().auth.signUp({ email, password: 'long enough' });
      expectError(error, 400, 'validation_failed', 'Unable to validate email address: invalid format');
      const reset = await client().auth.resetPasswordForEmail(email);
      expectError(reset.error, 400, 'validation_failed', 'Unable to validate email address: invalid format');
    },
  );
});

describe('the sign-up response', () => {
  test('its user shows when it signed in, as the session it comes with began then', async () => {
    const before = Date.now();
    const { data, error } = await client().auth.signUp({ email: 'wes@example.com', password: 'wes password' });
    expect(error).toBeNull();
    expect(data.session).not.toBeNull();
    const at = Date.parse(data.user?.last_sign_in_at ?? '');
    expect(at).toBeGreaterThanOrEqual(before - 1000);
    expect(data.session?.user.last_sign_in_at).toBe(data.user?.last_sign_in_at);
  });
});

describe('/factors checks the caller before the body', () => {
  test('no token is 401 no_authorization, even with a body that is no factor', async () => {
    for (const body of ['{"factor_type":"fingerprint"}', '{not json']) {
      const res = await call('POST', '/factors', { body });
      expect(res.status, body).toBe(401);
      expect(res.body.error_code, body).toBe('no_authorization');
    }
  });

  test('a forged token is 403 bad_jwt, before the body is looked at', async () => {
    const res = await call('POST', '/factors', { body: '{not json', token: 'not.a.jwt' });
    expect(res.status).toBe(403);
    expect(res.body.error_code).toBe('bad_jwt');
  });
});

describe('features Trellis does not offer answer as GoTrue does with them turned off', () => {
  test('SSO is saml_provider_disabled', async () => {
    const { error } = await client().auth.signInWithSSO({ domain: 'example.com' });
    expectError(error, 404, 'saml_provider_disabled', 'SAML 2.0 is disabled');
  });

  test('a web3 sign-in is web3_provider_disabled, on either chain', async () => {
    for (const chain of ['solana', 'ethereum'] as const) {
      const { data, error } = await client().auth.signInWithWeb3({
        chain,
        message: 'sign in to example.com',
        signature: chain === 'solana' ? new Uint8Array([1, 2, 3]) : '0x00',
      } as Parameters<SupabaseClient['auth']['signInWithWeb3']>[0]);
      expect(data.session, chain).toBeNull();
      expectError(error, 422, 'web3_provider_disabled', 'Web3 provider is disabled');
    }
  });

  test("an ID token is provider_disabled, naming the provider's issuer", async () => {
    const { data, error } = await client().auth.signInWithIdToken({ provider: 'google', token: 'some.id.token' });
    expect(data.session).toBeNull();
    expectError(error, 400, 'provider_disabled', 'Provider (issuer "https://accounts.google.com") is not enabled');
  });

  test('linking and unlinking an identity is manual_linking_disabled, for a signed-in caller only', async () => {
    const una = await signedIn('una@example.com', 'una password');
    const link = await una.auth.linkIdentity({ provider: 'github', options: { skipBrowserRedirect: true } });
    expectError(link.error, 404, 'manual_linking_disabled', 'Manual linking is disabled');
    const { data } = await una.auth.getUserIdentities();
    const identity = data?.identities[0];
    expect(identity).toBeDefined();
    const unlink = await una.auth.unlinkIdentity(identity as NonNullable<typeof identity>);
    expectError(unlink.error, 404, 'manual_linking_disabled', 'Manual linking is disabled');
    expect((await call('GET', '/user/identities/authorize?provider=github')).status).toBe(401);
  });

  test('reauthentication answers a confirmed caller with an empty body (the nonce goes by mail), after the caller is checked', async () => {
    const vic = await signedIn('vic@example.com', 'vic password');
    const { data, error } = await vic.auth.reauthenticate();
    expect(error).toBeNull();
    expect(data).toEqual({ user: null, session: null });
    expect((await call('GET', '/reauthenticate')).status).toBe(401);
  });

  test("an anonymous caller gets GoTrue's own refusal: there is no address to send a code to", async () => {
    const anonymous = client();
    expect((await anonymous.auth.signInAnonymously()).error).toBeNull();
    const { error } = await anonymous.auth.reauthenticate();
    expectError(
      error,
      400,
      'validation_failed',
      'Reauthentication requires the user to have an email or a phone number',
    );
  });
});

describe('rate limits', () => {
  test('password sign-ins and sign-ups count in separate budgets', async () => {
    // The sign-up above (wes) spent one of two sign-up points; this one spends the other.
    expect((await client().auth.signUp({ email: 'xan@example.com', password: 'xan password' })).error).toBeNull();
    const third = await client().auth.signUp({ email: 'yul@example.com', password: 'yul password' });
    expect(third.error?.code).toBe('over_request_rate_limit');
    // Sign-ups are spent, yet password sign-ins still have the two of their four that una and vic
    // left above.
    for (let i = 0; i < 2; i++) {
      const { error } = await client().auth.signInWithPassword({ email: 'xan@example.com', password: 'xan password' });
      expect(error).toBeNull();
    }
    const over = await client().auth.signInWithPassword({ email: 'xan@example.com', password: 'xan password' });
    expect(over.error?.status).toBe(429);
    expect(over.error?.code).toBe('over_request_rate_limit');
  });
});
