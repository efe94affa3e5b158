/**
 * Sign-in with OAuth/OIDC providers through supabase-js: a real OpenID provider (oidc-provider) and
 * a fake GitHub on loopback, the implicit and PKCE redirect flows, account linking by verified
 * address, who confirms an unconfirmed user, forged and replayed states, the redirect allow list,
 * and the clean-up of flows nobody finished.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { Browser, startFakeGithub, startOidcServer, type FakeGithub, type OidcServer } from '../../helpers/oauth.js';
import { freePort } from '../../helpers/cli.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;
/** The same providers with email confirmation on. */
let confirming: TestServer;
let oidc: OidcServer;
let github: FakeGithub;
let app: string;

beforeAll(async () => {
  const [oidcPort, githubPort, appPort] = [await freePort(), await freePort(), await freePort()];
  app = `http://127.0.0.1:${appPort}`;
  github = await startFakeGithub(githubPort, 'gh-secret');
  server = await startTestServer({
    env: {
      AUTH_SITE_URL: app,
      AUTH_ADDITIONAL_REDIRECT_URLS: `${app}/*`,
      AUTH_MANUAL_LINKING_ENABLED: 'true',
      AUTH_EXTERNAL_TEST_ENABLED: 'true',
      AUTH_EXTERNAL_TEST_CLIENT_ID: 'trellis-client',
      AUTH_EXTERNAL_TEST_SECRET: 'oidc-secret',
      AUTH_EXTERNAL_TEST_URL: `http://127.0.0.1:${oidcPort}`,
      AUTH_EXTERNAL_GITHUB_ENABLED: 'true',
      AUTH_EXTERNAL_GITHUB_CLIENT_ID: 'gh-client',
      AUTH_EXTERNAL_GITHUB_SECRET: 'gh-secret',
      AUTH_EXTERNAL_GITHUB_URL: github.url,
    },
  });
  confirming = await startTestServer({
    env: {
      AUTH_SITE_URL: app,
      AUTH_EMAIL_CONFIRMATION: 'true',
      AUTH_EXTERNAL_TEST_ENABLED: 'true',
      AUTH_EXTERNAL_TEST_CLIENT_ID: 'trellis-client',
      AUTH_EXTERNAL_TEST_SECRET: 'oidc-secret',
      AUTH_EXTERNAL_TEST_URL: `http://127.0.0.1:${oidcPort}`,
    },
  });
  oidc = await startOidcServer({
    port: oidcPort,
    clientId: 'trellis-client',
    clientSecret: 'oidc-secret',
    redirectUris: [`${server.url}/auth/v1/callback`, `${confirming.url}/auth/v1/callback`],
    accounts: {
      unverified: { email: 'taken@example.com', email_verified: false },
      verified: { email: 'taken@example.com', email_verified: true, name: 'Vera' },
      'stale-unverified': { email: 'stale@example.com', email_verified: false },
      'stale-elsewhere': { email: 'elsewhere@example.com', email_verified: true },
      'stale-owner': { email: 'stale@example.com', email_verified: true },
    },
  });
}, 60_000);

afterAll(async () => {
  await oidc?.stop();
  await github?.stop();
  await confirming?.stop();
  await server?.stop();
});

const client = (flowType: 'implicit' | 'pkce' = 'implicit'): SupabaseClient =>
  createClient(server.url, server.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false, flowType },
    realtime: { transport: WebSocket as unknown as never },
  });

async function implicitSignIn(provider: string, login: string, redirectTo = `${app}/done`) {
  const supabase = client();
  const { data, error } = await supabase.auth.signInWithOAuth({
    provider: provider as 'github',
    options: { redirectTo, skipBrowserRedirect: true },
  });
  expect(error).toBeNull();
  const back = await new Browser().signIn(data.url ?? '', login, app);
  return { back, fragment: new URLSearchParams(back.hash.slice(1)), supabase };
}

describe('GET /settings', () => {
  test('lists the enabled providers', async () => {
    const settings = (await (
      await fetch(`${server.url}/auth/v1/settings`, { headers: { apikey: server.anonKey } })
    ).json()) as { external: Record<string, boolean> };
    expect(settings.external).toMatchObject({ github: true, google: false, apple: false, email: true });
  });
});

describe('the implicit flow with an OpenID provider', () => {
  test('a new user signs in and comes back with a session and the provider token', async () => {
    const { back, fragment, supabase } = await implicitSignIn('custom:test', 'alice');
    expect(back.pathname).toBe('/done');
    expect(fragment.get('provider_token')).toBeTruthy();
    const { data, error } = await supabase.auth.setSession({
      access_token: fragment.get('access_token') ?? '',
      refresh_token: fragment.get('refresh_token') ?? '',
    });
    expect(error).toBeNull();
    const user = data.user;
    expect(user?.email).toBe('alice@example.com');
    expect(user?.email_confirmed_at).toBeTruthy();
    expect(user?.app_metadata).toMatchObject({ provider: 'custom:test', providers: ['custom:test'] });
    expect(user?.identities?.map((i) => [i.provider, i.id])).toEqual([['custom:test', 'alice']]);
    expect(user?.identities?.[0]?.identity_data).toMatchObject({ sub: 'alice', email: 'alice@example.com' });
  });

  test('the same identity signs in as the same user the next time', async () => {
    const first = await implicitSignIn('custom:test', 'again');
    const second = await implicitSignIn('custom:test', 'again');
    const id = async (f: URLSearchParams) => (await client().auth.getUser(f.get('access_token') ?? '')).data.user?.id;
    expect(await id(second.fragment)).toBe(await id(first.fragment));
  });

  test('a verified provider address links to the user who holds it; an unverified one does not', async () => {
    const owner = await client().auth.signUp({ email: 'taken@example.com', password: 'password-1' });
    expect(owner.error).toBeNull();
    const unverified = await implicitSignIn('custom:test', 'unverified');
    const stranger = (await client().auth.getUser(unverified.fragment.get('access_token') ?? '')).data.user;
    expect(stranger?.id).not.toBe(owner.data.user?.id);
    expect(stranger?.email).toBe('');

    const verified = await implicitSignIn('custom:test', 'verified');
    const linked = (await client().auth.getUser(verified.fragment.get('access_token') ?? '')).data.user;
    expect(linked?.id).toBe(owner.data.user?.id);
    expect(linked?.identities?.map((i) => i.provider).sort()).toEqual(['custom:test', 'email']);
    expect(linked?.app_metadata.providers).toEqual(expect.arrayContaining(['email', 'custom:test']));
    expect(linked?.user_metadata).toMatchObject({ name: 'Vera' });
  });

  test('a redirect_to outside the allow list goes to the site URL', async () => {
    const { back } = await implicitSignIn('custom:test', 'redirected', 'https://evil.example/steal');
    expect(back.origin).toBe(app);
    expect(new URLSearchParams(back.hash.slice(1)).get('access_token')).toBeTruthy();
  });
});

describe('who may sign in', () => {
  test('a banned user is sent back with access_denied', async () => {
    const first = await implicitSignIn('custom:test', 'to-be-banned');
    const id = (await client().auth.getUser(first.fragment.get('access_token') ?? '')).data.user?.id ?? '';
    const admin = createClient(server.url, server.serviceRoleKey, {
      auth: { persistSession: false, autoRefreshToken: false },
      realtime: { transport: WebSocket as unknown as never },
    });
    expect((await admin.auth.admin.updateUserById(id, { ban_duration: '24h' })).error).toBeNull();
    const { back } = await implicitSignIn('custom:test', 'to-be-banned');
    expect(Object.fromEntries(back.searchParams)).toMatchObject({ error: 'access_denied', error_code: 'user_banned' });
  });

  test('with email confirmation on, a verified provider address is confirmed and an unverified one refused', async () => {
    const start = async (login: string) => {
      const { data } = await createClient(confirming.url, confirming.anonKey, {
        auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
        realtime: { transport: WebSocket as unknown as never },
      }).auth.signInWithOAuth({ provider: 'custom:test', options: { skipBrowserRedirect: true } });
      return new Browser().signIn(data.url ?? '', login, app);
    };
    const verified = await start('confirmed-by-provider');
    expect(new URLSearchParams(verified.hash.slice(1)).get('access_token')).toBeTruthy();
    const unverified = await start('unverified');
    expect(Object.fromEntries(unverified.searchParams)).toEqual({
      error: 'access_denied',
      error_code: 'provider_email_needs_verification',
      error_description: 'Unverified email with custom:test. Verify the email with custom:test in order to sign in',
    });
    const rows = await confirming.sql.query(`select 1 from auth.users where email = 'taken@example.com'`);
    expect(rows.rowCount).toBe(0);

    // Someone signed up with the address but never confirmed it; the provider vouches for it now:
    // the identity links, the address is confirmed, and the stranger's password goes.
    const signUp = await createClient(confirming.url, confirming.anonKey, {
      auth: { persistSession: false, autoRefreshToken: false },
      realtime: { transport: WebSocket as unknown as never },
    }).auth.signUp({ email: 'taken@example.com', password: 'chosen-by-someone-else' });
    expect(signUp.error).toBeNull();
    const owner = await start('verified');
    expect(new URLSearchParams(owner.hash.slice(1)).get('access_token')).toBeTruthy();
    const user = await confirming.sql.query<{ id: string; confirmed: boolean; password: string | null }>(
      `select id, email_confirmed_at is not null as confirmed, encrypted_password as password
       from auth.users where email = 'taken@example.com'`,
    );
    expect(user.rows).toEqual([{ id: signUp.data.user?.id, confirmed: true, password: null }]);
    const providers = await confirming.sql.query(`select provider from auth.identities where user_id = $1`, [
      signUp.data.user?.id,
    ]);
    expect(providers.rows).toEqual([{ provider: 'custom:test' }]);
  });
  test('a known identity confirms an unconfirmed user only when the provider verified that same address', async () => {
    const start = async (login: string) => {
      const { data } = await createClient(confirming.url, confirming.anonKey, {
        auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
        realtime: { transport: WebSocket as unknown as never },
      }).auth.signInWithOAuth({ provider: 'custom:test', options: { skipBrowserRedirect: true } });
      return new Browser().signIn(data.url ?? '', login, app);
    };
    const signUp = await createClient(confirming.url, confirming.anonKey, {
      auth: { persistSession: false, autoRefreshToken: false },
      realtime: { transport: WebSocket as unknown as never },
    }).auth.signUp({ email: 'stale@example.com', password: 'chosen-by-someone-else' });
    expect(signUp.error).toBeNull();
    const id = signUp.data.user?.id;
    // Identities already on the unconfirmed user (as a link made before would leave them).
    for (const login of ['stale-unverified', 'stale-elsewhere', 'stale-owner'])
      await confirming.sql.query(
        `insert into auth.identities (provider_id, user_id, identity_data, provider) values ($1, $2, '{}', 'custom:test')`,
        [login, id],
      );
    const state = async () =>
      (
        await confirming.sql.query<{ confirmed: boolean; password: boolean }>(
          `select email_confirmed_at is not null as confirmed, encrypted_password is not null as password
           from auth.users where id = $1`,
          [id],
        )
      ).rows[0];
    // The provider did not verify the address, or verified another one: refused, nothing changed.
    for (const login of ['stale-unverified', 'stale-elsewhere']) {
      const back = await start(login);
      expect(Object.fromEntries(back.searchParams)).toEqual({
        error: 'access_denied',
        error_code: 'provider_email_needs_verification',
        error_description: 'Unverified email with custom:test. Verify the email with custom:test in order to sign in',
      });
      expect(await state()).toEqual({ confirmed: false, password: true });
    }
    const owner = await start('stale-owner');
    expect(new URLSearchParams(owner.hash.slice(1)).get('access_token')).toBeTruthy();
    expect(await state()).toEqual({ confirmed: true, password: false });
    const left = await confirming.sql.query(`select provider_id from auth.identities where user_id = $1`, [id]);
    expect(left.rows).toEqual([{ provider_id: 'stale-owner' }]);
  });
});

describe('the PKCE flow', () => {
  test('signInWithOAuth then exchangeCodeForSession gives a session, once', async () => {
    const supabase = client('pkce');
    const { data } = await supabase.auth.signInWithOAuth({
      provider: 'custom:test',
      options: { redirectTo: `${app}/pkce`, skipBrowserRedirect: true },
    });
    expect(new URL(data.url ?? '').searchParams.get('code_challenge_method')).toBe('s256');
    const back = await new Browser().signIn(data.url ?? '', 'pkce-user', app);
    const code = back.searchParams.get('code') ?? '';
    expect(back.pathname).toBe('/pkce');
    expect(back.hash).toBe('');
    const exchanged = await supabase.auth.exchangeCodeForSession(code);
    expect(exchanged.error).toBeNull();
    expect(exchanged.data.user?.email).toBe('pkce-user@example.com');
    expect(exchanged.data.session?.provider_token).toBeTruthy();
    const again = await fetch(`${server.url}/auth/v1/token?grant_type=pkce`, {
      method: 'POST',
      headers: { apikey: server.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify({ auth_code: code, code_verifier: 'x'.repeat(43) }),
    });
    expect(again.status).toBe(404);
    expect(await again.json()).toMatchObject({ error_code: 'flow_state_not_found' });
  });

  test('flows nobody exchanged are deleted with their provider tokens once their code expired', async () => {
    const user = await server.sql.query<{ id: string }>(
      `insert into auth.users (id, aud, role, email, created_at, updated_at)
       values (gen_random_uuid(), 'authenticated', 'authenticated', 'abandoned@example.com', now(), now()) returning id`,
    );
    const flow = (age: string) =>
      server.sql.query<{ id: string }>(
        `insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge, provider_type,
           provider_access_token, provider_refresh_token, authentication_method, auth_code_issued_at, created_at, updated_at)
         values (gen_random_uuid(), $1, gen_random_uuid()::text, 's256', $2, 'custom:test', 'provider-secret',
           'provider-refresh', 'oauth', now() - $3::interval, now() - $3::interval, now())
         returning id`,
        [user.rows[0]?.id, 'c'.repeat(43), age],
      );
    const old = (await flow('6 minutes')).rows[0]?.id;
    const fresh = (await flow('1 minute')).rows[0]?.id;
    const started = await fetch(`${server.url}/auth/v1/authorize?provider=github`, { redirect: 'manual' });
    expect(started.status).toBe(302);
    const left = await server.sql.query<{ id: string }>('select id from auth.flow_state where id = any($1)', [
      [old, fresh],
    ]);
    expect(left.rows).toEqual([{ id: fresh }]);
  });

  test('a wrong code verifier is refused', async () => {
    const supabase = client('pkce');
    const { data } = await supabase.auth.signInWithOAuth({
      provider: 'custom:test',
      options: { redirectTo: `${app}/pkce`, skipBrowserRedirect: true },
    });
    const back = await new Browser().signIn(data.url ?? '', 'pkce-thief', app);
    const response = await fetch(`${server.url}/auth/v1/token?grant_type=pkce`, {
      method: 'POST',
      headers: { apikey: server.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify({ auth_code: back.searchParams.get('code'), code_verifier: 'y'.repeat(43) }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error_code: 'bad_code_verifier' });
  });
});

describe('the callback refuses', () => {
  const callback = (query: string) => fetch(`${server.url}/auth/v1/callback?${query}`, { redirect: 'manual' });
  const errorOf = (response: Response) =>
    Object.fromEntries(new URL(response.headers.get('location') ?? '').searchParams);

  test('a missing state, to the site URL', async () => {
    const response = await callback('code=abc');
    expect(response.status).toBe(303);
    expect(response.headers.get('location')?.startsWith(app)).toBe(true);
    expect(errorOf(response)).toMatchObject({
      error: 'invalid_request',
      error_code: 'bad_oauth_callback',
      error_description: 'OAuth state parameter missing',
    });
  });

  test.each([
    [
      'signed with another secret',
      async () =>
        new SignJWT({ fid: crypto.randomUUID(), provider: 'custom:test' })
          .setProtectedHeader({ alg: 'HS256' })
          .setAudience('trellis:oauth-state')
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode('another-secret-of-at-least-32-chars!!')),
    ],
    ['not a JWT', async () => 'not-a-jwt'],
    [
      'with alg none',
      async () =>
        `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"fid":"x","provider":"custom:test"}').toString('base64url')}.`,
    ],
  ])('a forged state (%s)', async (_name, forge) => {
    const response = await callback(`code=abc&state=${encodeURIComponent(await forge())}`);
    expect(response.status).toBe(303);
    expect(errorOf(response)).toMatchObject({
      error_code: 'bad_oauth_state',
      error_description: 'OAuth state parameter is invalid',
    });
  });

  test('a state of a flow that does not exist', async () => {
    const state = await new SignJWT({ fid: crypto.randomUUID(), provider: 'custom:test' })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience('trellis:oauth-state')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(server.jwtSecret));
    const response = await callback(`code=abc&state=${state}`);
    expect(errorOf(response)).toMatchObject({
      error_code: 'bad_oauth_state',
      error_description: 'OAuth state not found or expired',
    });
  });

  test('a replayed callback (the same state and code again)', async () => {
    const supabase = client();
    const { data } = await supabase.auth.signInWithOAuth({
      provider: 'custom:test',
      options: { redirectTo: `${app}/done`, skipBrowserRedirect: true },
    });
    const browser = new Browser();
    const atCallback = await browser.signIn(data.url ?? '', 'replayer', `${server.url}/auth/v1/callback`);
    const first = await browser.request(atCallback.href);
    expect(first.status).toBe(302);
    expect(new URL(first.headers.get('location') ?? '').hash).toContain('access_token=');
    const second = await browser.request(atCallback.href);
    expect(second.status).toBe(303);
    expect(errorOf(second)).toMatchObject({ error_code: 'bad_oauth_state' });
  });

  test("the provider's own error, back to redirect_to in query and fragment", async () => {
    const supabase = client();
    const { data } = await supabase.auth.signInWithOAuth({
      provider: 'custom:test',
      options: { redirectTo: `${app}/done`, skipBrowserRedirect: true },
    });
    const browser = new Browser();
    const authorize = await browser.request(data.url ?? '');
    const state = new URL(authorize.headers.get('location') ?? '').searchParams.get('state') ?? '';
    const response = await callback(
      `error=access_denied&error_description=User%20said%20no&state=${encodeURIComponent(state)}`,
    );
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location') ?? '');
    expect(location.pathname).toBe('/done');
    expect(Object.fromEntries(location.searchParams)).toEqual({
      error: 'access_denied',
      error_description: 'User said no',
    });
    expect(new URLSearchParams(location.hash.slice(1)).get('error_description')).toBe('User said no');
  });

  test('a form post (response_mode=form_post, as Apple answers) is read like a query', async () => {
    const { data } = await client().auth.signInWithOAuth({
      provider: 'custom:test',
      options: { redirectTo: `${app}/posted`, skipBrowserRedirect: true },
    });
    const authorize = await new Browser().request(data.url ?? '');
    const state = new URL(authorize.headers.get('location') ?? '').searchParams.get('state') ?? '';
    const response = await fetch(`${server.url}/auth/v1/callback`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ state, error: 'temporarily_unavailable', error_description: 'try later' }).toString(),
      redirect: 'manual',
    });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location') ?? '');
    expect(location.pathname).toBe('/posted');
    expect(location.searchParams.get('error')).toBe('temporarily_unavailable');
  });

  test('a huge form post, with 413', async () => {
    const response = await fetch(`${server.url}/auth/v1/callback`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `state=${'a'.repeat(100_000)}`,
    });
    expect(response.status).toBe(413);
  });
});

describe('GET /authorize refuses', () => {
  const authorize = async (query: string) => {
    const response = await fetch(`${server.url}/auth/v1/authorize?${query}`, { redirect: 'manual' });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  test.each([
    ['provider=nope', 'Unsupported provider: Provider nope could not be found'],
    ['provider=apple', 'Unsupported provider: provider is not enabled'],
    ['', 'Unsupported provider: Provider  could not be found'],
    ['provider=%00', 'Unsupported provider: Provider \u0000 could not be found'],
    [
      'provider=github&code_challenge=short&code_challenge_method=s256',
      'code challenge has to be between 43 and 128 characters',
    ],
    ['provider=github&code_challenge_method=s256', 'PKCE flow requires code_challenge_method and code_challenge'],
  ])('%s', async (query, msg) => {
    expect(await authorize(query)).toEqual({ status: 400, body: { code: 400, error_code: 'validation_failed', msg } });
  });

  test("counts against the client's token budget", async () => {
    const limited = await startTestServer({
      env: {
        AUTH_RATE_LIMIT_TOKEN_REFRESH: '2',
        AUTH_EXTERNAL_GITHUB_ENABLED: 'true',
        AUTH_EXTERNAL_GITHUB_CLIENT_ID: 'gh-client',
        AUTH_EXTERNAL_GITHUB_SECRET: 'gh-secret',
        AUTH_EXTERNAL_GITHUB_URL: github.url,
      },
    });
    try {
      const start = () => fetch(`${limited.url}/auth/v1/authorize?provider=github`, { redirect: 'manual' });
      expect([(await start()).status, (await start()).status]).toEqual([302, 302]);
      const refused = await start();
      expect(refused.status).toBe(429);
      expect(await refused.json()).toMatchObject({ error_code: 'over_request_rate_limit' });
      const rows = await limited.sql.query(`select 1 from auth.flow_state where provider_type = 'github'`);
      expect(rows.rowCount).toBe(2);
    } finally {
      await limited.stop();
    }
  });

  test('needs no apikey and sends the browser to the provider with a signed state', async () => {
    const response = await fetch(`${server.url}/auth/v1/authorize?provider=github&prompt=consent`, {
      redirect: 'manual',
    });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location') ?? '');
    expect(location.origin + location.pathname).toBe(`${github.url}/login/oauth/authorize`);
    expect(Object.fromEntries(location.searchParams)).toMatchObject({
      client_id: 'gh-client',
      redirect_uri: `${server.url}/auth/v1/callback`,
      scope: 'user:email',
      prompt: 'consent',
      response_type: 'code',
    });
    expect(location.searchParams.get('state')?.split('.')).toHaveLength(3);
  });
});

describe('GitHub (OAuth 2.0 with a profile API)', () => {
  test('signs in with the primary verified address and the GitHub profile', async () => {
    github.nextUser = {
      id: 4242,
      login: 'octo',
      name: 'Octo Cat',
      emails: [
        { email: 'old@example.com', primary: false, verified: true },
        { email: 'Octo@Example.com', primary: true, verified: true },
      ],
    };
    const { fragment } = await implicitSignIn('github', 'ignored');
    const user = (await client().auth.getUser(fragment.get('access_token') ?? '')).data.user;
    expect(user?.email).toBe('octo@example.com');
    expect(user?.user_metadata).toMatchObject({ user_name: 'octo', full_name: 'Octo Cat', provider_id: '4242' });
    expect(user?.identities?.[0]).toMatchObject({ provider: 'github', id: '4242' });
    expect(github.tokenRequests.at(-1)?.get('client_secret')).toBe('gh-secret');
  });

  test('no address at all is an error back at redirect_to', async () => {
    github.nextUser = { id: 77, login: 'ghost', emails: [] };
    const { back } = await implicitSignIn('github', 'ignored');
    expect(Object.fromEntries(back.searchParams)).toMatchObject({
      error: 'server_error',
      error_code: 'unexpected_failure',
      error_description: 'Error getting user email from external provider',
    });
  });
});

describe('linkIdentity and unlinkIdentity', () => {
  test('a signed-in user links a provider identity, unlinks it, and cannot unlink the last one', async () => {
    const supabase = client();
    const signUp = await supabase.auth.signUp({ email: 'linker@example.com', password: 'password-1' });
    expect(signUp.error).toBeNull();
    const { data, error } = await supabase.auth.linkIdentity({
      provider: 'custom:test',
      options: { redirectTo: `${app}/linked`, skipBrowserRedirect: true },
    });
    expect(error).toBeNull();
    const back = await new Browser().signIn(data.url ?? '', 'linked-login', app);
    expect(back.pathname).toBe('/linked');
    const identities = await supabase.auth.getUserIdentities();
    expect(identities.data?.identities.map((i) => i.provider).sort()).toEqual(['custom:test', 'email']);

    // The same provider identity cannot be linked to another user.
    const other = client();
    await other.auth.signUp({ email: 'other-linker@example.com', password: 'password-1' });
    const second = await other.auth.linkIdentity({
      provider: 'custom:test',
      options: { redirectTo: `${app}/linked`, skipBrowserRedirect: true },
    });
    const refused = await new Browser().signIn(second.data.url ?? '', 'linked-login', app);
    expect(Object.fromEntries(refused.searchParams)).toMatchObject({
      error_code: 'identity_already_exists',
      error_description: 'Identity is already linked to another user',
    });

    const linked = identities.data?.identities.find((i) => i.provider === 'custom:test');
    expect((await supabase.auth.unlinkIdentity(linked!)).error).toBeNull();
    const left = (await supabase.auth.getUserIdentities()).data?.identities ?? [];
    expect(left.map((i) => i.provider)).toEqual(['email']);
    const last = await supabase.auth.unlinkIdentity(left[0]!);
    expect({ status: last.error?.status, code: last.error?.code, message: last.error?.message }).toEqual({
      status: 422,
      code: 'single_identity_not_deletable',
      message: 'User must have at least 1 identity after unlinking',
    });
  });

  test('unlinking needs a caller, and an identity id that is a UUID of theirs', async () => {
    const supabase = client();
    await supabase.auth.signUp({ email: 'unlinker@example.com', password: 'password-1' });
    const token = (await supabase.auth.getSession()).data.session?.access_token ?? '';
    const call = (id: string, bearer?: string) =>
      fetch(`${server.url}/auth/v1/user/identities/${id}`, {
        method: 'DELETE',
        headers: { apikey: server.anonKey, ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error_code?: string } }));
    expect((await call(crypto.randomUUID())).status).toBe(401);
    expect((await call(crypto.randomUUID(), 'forged.jwt.token')).body.error_code).toBe('bad_jwt');
    expect(await call('not-a-uuid', token)).toMatchObject({ status: 404, body: { error_code: 'validation_failed' } });
  });
});
