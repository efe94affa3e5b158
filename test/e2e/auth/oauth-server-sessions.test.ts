/**
 * The sessions the OAuth 2.1 server issues, and what guards its two public endpoints: a client's
 * session is refreshed only by that client (GoTrue's invalid_client answers at /token and
 * /oauth/token), its tokens say `client_id` and `scope`, the session is tagged even when a
 * custom_access_token hook rewrites `session_id`, and /oauth/authorize and /oauth/token are
 * bounded (rate limit, stale rows dropped, body and field sizes, a malformed Basic header).
 */
import crypto from 'node:crypto';
import type { SupabaseClient } from '@supabase/supabase-js';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

const REDIRECT = 'http://localhost:3000/cb';
const ENV = {
  AUTH_OAUTH_SERVER_ENABLED: 'true',
  AUTH_SITE_URL: 'http://localhost:3000',
  AUTH_RATE_LIMIT_VERIFY: '1000',
};

interface Setup {
  server: TestServer;
  user: SupabaseClient;
  clients: { id: string; secret: string }[];
}

async function setUp(server: TestServer, email: string): Promise<Setup> {
  const admin = supabaseClient(server, server.serviceRoleKey);
  const clients = [];
  for (const name of ['Notes', 'Other']) {
    const made = await admin.auth.admin.oauth.createClient({ client_name: name, redirect_uris: [REDIRECT] });
    clients.push({ id: made.data?.client_id as string, secret: made.data?.client_secret as string });
  }
  const user = supabaseClient(server);
  const { error } = await user.auth.signUp({ email, password: 'oauth password' });
  if (error) throw error;
  return { server, user, clients };
}

function authorize(server: TestServer, params: Record<string, string>) {
  return fetch(`${server.url}/auth/v1/oauth/authorize?${new URLSearchParams(params)}`, { redirect: 'manual' });
}

function flowParams(clientId: string) {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  return {
    verifier,
    params: {
      client_id: clientId,
      redirect_uri: REDIRECT,
      response_type: 'code',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      scope: 'openid email',
    },
  };
}

async function postToken(
  server: TestServer,
  form: Record<string, string>,
  authorization: string | undefined,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/auth/v1/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(authorization ? { authorization } : {}),
    },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const basic = (c: { id: string; secret: string }) => `Basic ${Buffer.from(`${c.id}:${c.secret}`).toString('base64')}`;

/** A consented code traded for the client's first tokens. */
async function clientTokens(s: Setup, client = s.clients[0] as { id: string; secret: string }) {
  const { verifier, params } = flowParams(client.id);
  const res = await authorize(s.server, params);
  expect(res.status).toBe(302);
  const authorizationId = new URL(res.headers.get('location') ?? '').searchParams.get('authorization_id') as string;
  const details = await s.user.auth.oauth.getAuthorizationDetails(authorizationId);
  const redirect =
    (details.data as { redirect_url?: string }).redirect_url ??
    (
      (await s.user.auth.oauth.approveAuthorization(authorizationId, { skipBrowserRedirect: true })).data as {
        redirect_url: string;
      }
    ).redirect_url;
  const code = new URL(redirect).searchParams.get('code') as string;
  const tokens = await postToken(
    s.server,
    { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier },
    basic(client),
  );
  expect(tokens.status).toBe(200);
  return tokens.body as { access_token: string; refresh_token: string };
}

/** POST /token?grant_type=refresh_token as auth-js sends it. */
async function firstPartyRefresh(server: TestServer, refreshToken: string) {
  const res = await fetch(`${server.url}/auth/v1/token?grant_type=refresh_token`, {
    method: 'POST',
    headers: { apikey: server.anonKey, 'content-type': 'application/json' },
    body: JSON.stringify({ refresh_token: refreshToken }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('a client session', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp(await startTestServer({ env: ENV }), 'sessions@example.com');
  });
  afterAll(async () => {
    await s?.server.stop();
  });

  test('is refreshed only by its client; the refusals end nothing', async () => {
    const [notes, other] = s.clients as [{ id: string; secret: string }, { id: string; secret: string }];
    const tokens = await clientTokens(s);
    expect(await firstPartyRefresh(s.server, tokens.refresh_token)).toEqual({
      status: 400,
      body: { error: 'invalid_client', error_description: 'Client authentication required for OAuth session' },
    });
    const { error } = await s.user.auth.refreshSession({ refresh_token: tokens.refresh_token });
    expect(error).toMatchObject({ status: 400, message: 'Client authentication required for OAuth session' });
    expect(
      await postToken(s.server, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, basic(other)),
    ).toEqual({
      status: 400,
      body: { error: 'invalid_client', error_description: "Client does not match the session's OAuth client" },
    });
    // The token is still live for its own client: no refusal counted as reuse.
    const refreshed = await postToken(
      s.server,
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
      basic(notes),
    );
    expect(refreshed.status).toBe(200);
  });

  test('a first-party refresh token is refused at /oauth/token, and stays good at /token', async () => {
    const session = (await s.user.auth.getSession()).data.session;
    const presented = session?.refresh_token as string;
    expect(
      await postToken(s.server, { grant_type: 'refresh_token', refresh_token: presented }, basic(s.clients[0]!)),
    ).toEqual({
      status: 400,
      body: { error: 'invalid_client', error_description: 'Client authentication not allowed for non-OAuth session' },
    });
    expect((await firstPartyRefresh(s.server, presented)).status).toBe(200);
  });

  test('its access tokens carry client_id and scope, before and after a refresh; a user’s do not', async () => {
    const client = s.clients[0] as { id: string; secret: string };
    const tokens = await clientTokens(s);
    const claims = decodeJwt(tokens.access_token);
    expect(claims).toMatchObject({ client_id: client.id, scope: 'openid email' });
    const { rows } = await s.server.sql.query('select oauth_client_id from auth.sessions where id = $1', [
      claims.session_id,
    ]);
    expect(rows[0]?.oauth_client_id).toBe(client.id);
    const refreshed = await postToken(
      s.server,
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
      basic(client),
    );
    expect(decodeJwt(refreshed.body.access_token as string)).toMatchObject({
      client_id: client.id,
      scope: 'openid email',
    });
    const own = (await s.user.auth.getSession()).data.session;
    expect(decodeJwt(own?.access_token as string).client_id).toBeUndefined();
  });

  test('an internal failure is the generic 500, never its text', async () => {
    const client = s.clients[0] as { id: string; secret: string };
    const tokens = await clientTokens(s);
    await s.server.sql.query(`
      create function public.fail_rotation() returns trigger language plpgsql as $$
      begin raise exception 'secret internal detail'; end $$;
      create trigger fail_rotation before insert on auth.refresh_tokens
        for each row when (new.parent is not null) execute function public.fail_rotation();`);
    try {
      const res = await postToken(
        s.server,
        { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
        basic(client),
      );
      expect(res.status).toBe(500);
      expect(JSON.stringify(res.body)).not.toContain('secret internal detail');
    } finally {
      await s.server.sql.query(
        'drop trigger fail_rotation on auth.refresh_tokens; drop function public.fail_rotation();',
      );
    }
  });

  test('a malformed Basic header is 401 invalid_client', async () => {
    for (const credentials of ['%:x', `${s.clients[0]?.id}:%E0%A4%A`]) {
      const res = await postToken(
        s.server,
        { grant_type: 'refresh_token', refresh_token: 'x' },
        `Basic ${Buffer.from(credentials).toString('base64')}`,
      );
      expect(res).toEqual({
        status: 401,
        body: { error: 'invalid_client', error_description: 'Client authentication failed' },
      });
    }
  });

  test('a body past the limit is refused before it is read', async () => {
    const res = await fetch(`${s.server.url}/auth/v1/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=refresh_token&refresh_token=${'x'.repeat(300_000)}`,
    });
    expect(res.status).toBe(413);
  });

  test('authorize: a huge scope or resource goes back to the client, and stale requests are dropped', async () => {
    const client = s.clients[0] as { id: string; secret: string };
    const stale = crypto.randomUUID();
    await s.server.sql.query(
      `insert into auth.oauth_authorizations (id, authorization_id, client_id, redirect_uri, scope, expires_at)
       values ($1, $2, $3, $4, 'email', now() - interval '1 day')`,
      [stale, `stale-${stale}`, client.id, REDIRECT],
    );
    for (const extra of [
      { scope: 'email '.repeat(1000) } as Record<string, string>,
      { resource: `https://api.example/${'r'.repeat(3000)}` },
    ]) {
      const res = await authorize(s.server, { ...flowParams(client.id).params, ...extra, state: 's' });
      expect(res.status).toBe(302);
      const url = new URL(res.headers.get('location') ?? '');
      expect(url.origin + url.pathname).toBe(REDIRECT);
      expect(url.searchParams.get('error')).toBe('invalid_request');
    }
    expect((await authorize(s.server, flowParams(client.id).params)).status).toBe(302);
    const { rowCount } = await s.server.sql.query('select 1 from auth.oauth_authorizations where id = $1', [stale]);
    expect(rowCount).toBe(0);
  });
});

describe('authorize', () => {
  test("counts against the client's token budget", async () => {
    const server = await startTestServer({ env: { ...ENV, AUTH_RATE_LIMIT_TOKEN_REFRESH: '2' } });
    try {
      const admin = supabaseClient(server, server.serviceRoleKey);
      const made = await admin.auth.admin.oauth.createClient({ client_name: 'Limited', redirect_uris: [REDIRECT] });
      const params = flowParams(made.data?.client_id as string).params;
      expect([(await authorize(server, params)).status, (await authorize(server, params)).status]).toEqual([302, 302]);
      const refused = await authorize(server, params);
      expect(refused.status).toBe(429);
      const { rowCount } = await server.sql.query('select 1 from auth.oauth_authorizations');
      expect(rowCount).toBe(2);
    } finally {
      await server.stop();
    }
  });
});

describe('with a custom_access_token hook that rewrites session_id', () => {
  let s: Setup;
  const HOOK_SQL = `
    create function public.custom_access_token_hook(event jsonb) returns jsonb language plpgsql as $$
    begin
      -- Only a client's first token: the user's own must still name their session.
      if event ->> 'authentication_method' <> 'oauth' then return jsonb_build_object('claims', event -> 'claims'); end if;
      return jsonb_build_object('claims',
        jsonb_set(event -> 'claims', '{session_id}', to_jsonb(gen_random_uuid()::text)));
    end $$;
    grant execute on function public.custom_access_token_hook to supabase_auth_admin;
    revoke execute on function public.custom_access_token_hook from authenticated, anon, public;`;
  beforeAll(async () => {
    const server = await startTestServer({
      migrations: { '20240101000000_hook.sql': HOOK_SQL },
      env: {
        ...ENV,
        AUTH_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED: 'true',
        AUTH_HOOK_CUSTOM_ACCESS_TOKEN_URI: 'pg-functions://postgres/public/custom_access_token_hook',
      },
    });
    s = await setUp(server, 'hooked@example.com');
  });
  afterAll(async () => {
    await s?.server.stop();
  });

  test('the session is still the client’s, and only the client refreshes it', async () => {
    const client = s.clients[0] as { id: string; secret: string };
    const tokens = await clientTokens(s);
    const { rows } = await s.server.sql.query<{ n: number }>(
      'select count(*)::int as n from auth.sessions where oauth_client_id = $1',
      [client.id],
    );
    expect(rows[0]?.n).toBe(1);
    expect((await firstPartyRefresh(s.server, tokens.refresh_token)).body.error).toBe('invalid_client');
    const refreshed = await postToken(
      s.server,
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
      basic(client),
    );
    expect(refreshed.status).toBe(200);
  });
});
