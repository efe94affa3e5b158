/**
 * PKCE email flows through supabase-js with `flowType: 'pkce'`: the mailed link's token is
 * `pkce_…`, following it redirects with `?code=`, and only the client holding the code verifier
 * exchanges that code (once, within five minutes) for a session.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import type { ParsedMail } from 'mailparser';
import { decodeJwt } from 'jose';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { linkAndCode, startMailSink, type MailSink } from '../../helpers/smtp.js';

let server: TestServer;
let sink: MailSink;

beforeAll(async () => {
  sink = await startMailSink();
  server = await startTestServer({
    env: { AUTH_EMAIL_CONFIRMATION: 'true', SMTP_URL: sink.url, AUTH_RATE_LIMIT_EMAIL_SENT: '1000' },
  });
});
afterAll(async () => {
  await server?.stop();
  await sink?.close();
});

/** A PKCE client whose storage keeps the code verifier between the request and the exchange. */
function pkceClient(
  items = new Map<string, string>(),
  onSet: (key: string, value: string) => void = () => undefined,
): SupabaseClient {
  return createClient(server.url, server.anonKey, {
    auth: {
      flowType: 'pkce',
      persistSession: true,
      autoRefreshToken: false,
      detectSessionInUrl: false,
      storage: {
        getItem: (key) => items.get(key) ?? null,
        setItem: (key, value) => {
          items.set(key, value);
          onSet(key, value);
        },
        removeItem: (key) => void items.delete(key),
      },
    },
    realtime: { transport: WebSocket as unknown as never },
  });
}

async function mailFrom(to: string, action: () => Promise<unknown>): Promise<ParsedMail> {
  const since = sink.mails.length;
  await action();
  return sink.next(to, since);
}

/** Follows the mailed link without following the redirect; returns where it sends the browser. */
async function follow(mail: ParsedMail): Promise<{ link: URL; status: number; location: URL }> {
  const { link } = linkAndCode(mail);
  expect(link, `a verification link in: ${mail.text}`).toBeTruthy();
  const url = new URL(link ?? '');
  const response = await fetch(url, { redirect: 'manual' });
  return { link: url, status: response.status, location: new URL(response.headers.get('location') ?? '') };
}

async function tokenGrant(body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/auth/v1/token?grant_type=pkce`, {
    method: 'POST',
    headers: { apikey: server.anonKey, 'content-type': 'application/json' },
    body,
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe('PKCE email flows', () => {
  test('sign-up: the link redirects with ?code= and exchangeCodeForSession signs that user in', async () => {
    const supabase = pkceClient();
    const mail = await mailFrom('pk-signup@example.com', () =>
      supabase.auth.signUp({
        email: 'pk-signup@example.com',
        password: 'signup password',
        options: { emailRedirectTo: `${server.url}/welcome` },
      }),
    );
    const flow = await follow(mail);
    expect(flow.link.searchParams.get('token')?.startsWith('pkce_')).toBe(true);
    expect(flow.status).toBe(303);
    expect(flow.location.pathname).toBe('/welcome');
    expect(flow.location.hash).toBe('');
    const code = flow.location.searchParams.get('code') ?? '';
    expect(code).toMatch(/^[0-9a-f-]{36}$/);

    const { data, error } = await supabase.auth.exchangeCodeForSession(code);
    expect(error).toBeNull();
    expect(data.user?.email).toBe('pk-signup@example.com');
    expect(data.user?.email_confirmed_at).toBeTruthy();
    const claims = decodeJwt(data.session?.access_token ?? '');
    expect((claims.amr as { method: string }[])[0]?.method).toBe('email/signup');
    expect((await supabase.auth.getUser()).data.user?.email).toBe('pk-signup@example.com');

    // Used once: the row is gone and the code is refused.
    const rows = await server.sql.query('select 1 from auth.flow_state where auth_code = $1', [code]);
    expect(rows.rowCount).toBe(0);
    const again = await supabase.auth.exchangeCodeForSession(code);
    expect(again.error).not.toBeNull();
  });

  test('magic link: signInWithOtp then the code gives a session', async () => {
    await server.sql.query(
      `insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
       values (gen_random_uuid(), 'authenticated', 'authenticated', 'pk-magic@example.com', now(),
               '{"provider":"email","providers":["email"]}', '{}', now(), now())`,
    );
    const supabase = pkceClient();
    const mail = await mailFrom('pk-magic@example.com', () =>
      supabase.auth.signInWithOtp({ email: 'pk-magic@example.com', options: { emailRedirectTo: server.url } }),
    );
    const flow = await follow(mail);
    expect(flow.link.searchParams.get('type')).toBe('magiclink');
    const { data, error } = await supabase.auth.exchangeCodeForSession(flow.location.searchParams.get('code') ?? '');
    expect(error).toBeNull();
    expect(data.user?.email).toBe('pk-magic@example.com');
    const claims = decodeJwt(data.session?.access_token ?? '');
    expect((claims.amr as { method: string }[])[0]?.method).toBe('magiclink');
  });

  test('recovery: resetPasswordForEmail, exchange, then updateUser sets the new password', async () => {
    const setup = pkceClient();
    const signUpMail = await mailFrom('pk-recover@example.com', () =>
      setup.auth.signUp({ email: 'pk-recover@example.com', password: 'old password' }),
    );
    const signUpFlow = await follow(signUpMail);
    expect(
      (await setup.auth.exchangeCodeForSession(signUpFlow.location.searchParams.get('code') ?? '')).error,
    ).toBeNull();

    const supabase = pkceClient();
    const mail = await mailFrom('pk-recover@example.com', () =>
      supabase.auth.resetPasswordForEmail('pk-recover@example.com', { redirectTo: `${server.url}/reset` }),
    );
    const flow = await follow(mail);
    expect(flow.location.pathname).toBe('/reset');
    const { data, error } = await supabase.auth.exchangeCodeForSession(flow.location.searchParams.get('code') ?? '');
    expect(error).toBeNull();
    expect((decodeJwt(data.session?.access_token ?? '').amr as { method: string }[])[0]?.method).toBe('recovery');
    expect((await supabase.auth.updateUser({ password: 'new password' })).error).toBeNull();
    const signIn = await pkceClient().auth.signInWithPassword({
      email: 'pk-recover@example.com',
      password: 'new password',
    });
    expect(signIn.error).toBeNull();
  });

  test('email change: updateUser({ email }) mails a pkce_ link whose code confirms the new address', async () => {
    const items = new Map<string, string>();
    let verifier: [string, string] | undefined;
    const supabase = pkceClient(items, (key, value) => {
      if (key.endsWith('-code-verifier')) verifier = [key, value];
    });
    const signUpMail = await mailFrom('pk-change@example.com', () =>
      supabase.auth.signUp({ email: 'pk-change@example.com', password: 'change password' }),
    );
    const code = (await follow(signUpMail)).location.searchParams.get('code') ?? '';
    expect((await supabase.auth.exchangeCodeForSession(code)).error).toBeNull();

    // auth-js drops the verifier when updateUser saves the session it returns, so the test keeps the
    // one the request was made with (a browser would have the same problem on the same tab).
    let update: Awaited<ReturnType<SupabaseClient['auth']['updateUser']>> | undefined;
    const mail = await mailFrom('pk-changed@example.com', async () => {
      update = await supabase.auth.updateUser(
        { email: 'pk-changed@example.com' },
        { emailRedirectTo: `${server.url}/changed` },
      );
    });
    expect(update?.error).toBeNull();
    expect(verifier).toBeDefined();
    if (verifier) items.set(...verifier);
    const flow = await follow(mail);
    expect(flow.link.searchParams.get('token')?.startsWith('pkce_')).toBe(true);
    expect(flow.location.pathname).toBe('/changed');
    const changed = await supabase.auth.exchangeCodeForSession(flow.location.searchParams.get('code') ?? '');
    expect(changed.error).toBeNull();
    expect(changed.data.user?.email).toBe('pk-changed@example.com');
    const row = await server.sql.query('select email from auth.users where id = $1', [changed.data.user?.id]);
    expect(row.rows[0]?.email).toBe('pk-changed@example.com');
  });

  test('POST /verify with a pkce_ token_hash returns the session, as GoTrue does', async () => {
    const supabase = pkceClient();
    const mail = await mailFrom('pk-post@example.com', () =>
      supabase.auth.signUp({ email: 'pk-post@example.com', password: 'post password' }),
    );
    const tokenHash = new URL(linkAndCode(mail).link ?? '').searchParams.get('token') ?? '';
    expect(tokenHash.startsWith('pkce_')).toBe(true);
    const { data, error } = await supabase.auth.verifyOtp({ token_hash: tokenHash, type: 'signup' });
    expect(error).toBeNull();
    expect(data.user?.email).toBe('pk-post@example.com');
    expect(data.session?.access_token).toBeTruthy();
  });

  test('a followed PKCE link whose flow state is gone redirects with the error in the query', async () => {
    const supabase = pkceClient();
    const mail = await mailFrom('pk-gone@example.com', () =>
      supabase.auth.signUp({ email: 'pk-gone@example.com', password: 'gone password' }),
    );
    await server.sql.query(
      `delete from auth.flow_state where user_id = (select id from auth.users where email = 'pk-gone@example.com')`,
    );
    const flow = await follow(mail);
    expect(flow.status).toBe(303);
    expect(flow.location.searchParams.get('code')).toBeNull();
    expect(flow.location.searchParams.get('error_code')).toBe('flow_state_not_found');
    // Nothing was consumed: the user is still unconfirmed.
    const row = await server.sql.query(`select email_confirmed_at from auth.users where email = 'pk-gone@example.com'`);
    expect(row.rows[0]?.email_confirmed_at).toBeNull();
  });

  test('a wrong verifier, a reused code and an expired code are refused with GoTrue codes', async () => {
    const supabase = pkceClient();
    const mail = await mailFrom('pk-bad@example.com', () =>
      supabase.auth.signUp({ email: 'pk-bad@example.com', password: 'bad password' }),
    );
    const code = (await follow(mail)).location.searchParams.get('code') ?? '';

    const wrong = await tokenGrant(JSON.stringify({ auth_code: code, code_verifier: 'x'.repeat(50) }));
    expect(wrong.status).toBe(400);
    expect(wrong.json.error_code).toBe('bad_code_verifier');
    // Another client (no verifier of this flow) cannot use the code either.
    expect((await pkceClient().auth.exchangeCodeForSession(code)).error).not.toBeNull();

    const ok = await supabase.auth.exchangeCodeForSession(code);
    expect(ok.error).toBeNull();
    const reused = await tokenGrant(JSON.stringify({ auth_code: code, code_verifier: 'x'.repeat(50) }));
    expect(reused.status).toBe(404);
    expect(reused.json.error_code).toBe('flow_state_not_found');

    // Expired: a flow older than five minutes.
    const late = pkceClient();
    const lateMail = await mailFrom('pk-late@example.com', () =>
      late.auth.signUp({ email: 'pk-late@example.com', password: 'late password' }),
    );
    const lateCode = (await follow(lateMail)).location.searchParams.get('code') ?? '';
    await server.sql.query(
      `update auth.flow_state set created_at = now() - interval '6 minutes',
         auth_code_issued_at = now() - interval '6 minutes' where auth_code = $1`,
      [lateCode],
    );
    const expired = await late.auth.exchangeCodeForSession(lateCode);
    expect(expired.error?.code).toBe('flow_state_expired');
    expect(expired.error?.status).toBe(422);

    // The server is still fine.
    expect((await fetch(`${server.url}/auth/v1/health`, { headers: { apikey: server.anonKey } })).status).toBe(200);
  });

  test('a sign-up link followed after five minutes still gives a usable code (counted from the follow)', async () => {
    const supabase = pkceClient();
    const mail = await mailFrom('pk-slow@example.com', () =>
      supabase.auth.signUp({ email: 'pk-slow@example.com', password: 'slow password' }),
    );
    await server.sql.query(
      `update auth.flow_state set created_at = now() - interval '20 minutes'
       where user_id = (select id from auth.users where email = 'pk-slow@example.com')`,
    );
    const code = (await follow(mail)).location.searchParams.get('code') ?? '';
    const { data, error } = await supabase.auth.exchangeCodeForSession(code);
    expect(error).toBeNull();
    expect(data.user?.email).toBe('pk-slow@example.com');
  });

  test('flows no link can reach any more are removed when the user starts another', async () => {
    const supabase = pkceClient();
    await mailFrom('pk-stale@example.com', () =>
      supabase.auth.signUp({ email: 'pk-stale@example.com', password: 'stale password' }),
    );
    const owner = `(select id from auth.users where email = 'pk-stale@example.com')`;
    await server.sql.query(
      `update auth.flow_state set created_at = now() - interval '2 days' where user_id = ${owner}`,
    );
    const resent = await mailFrom('pk-stale@example.com', () =>
      supabase.auth.resend({ type: 'signup', email: 'pk-stale@example.com' }),
    );
    // The resent link is a PKCE one too.
    expect(new URL(linkAndCode(resent).link ?? '').searchParams.get('token')?.startsWith('pkce_')).toBe(true);
    await mailFrom('pk-stale@example.com', () =>
      pkceClient().auth.signUp({ email: 'pk-stale@example.com', password: 'stale password' }),
    );
    const rows = await server.sql.query(
      `select created_at > now() - interval '1 hour' as fresh from auth.flow_state where user_id = ${owner}`,
    );
    // The stale sign-up flow went; the resend's and the second sign-up's stay.
    expect(rows.rows).toEqual([{ fresh: true }, { fresh: true }]);
  });

  test('bad input: missing verifier, malformed JSON, NUL, huge values, bad challenges', async () => {
    const missing = await tokenGrant(JSON.stringify({ auth_code: 'abc' }));
    expect(missing.status).toBe(400);
    expect(missing.json.error_code).toBe('validation_failed');
    const malformed = await tokenGrant('{"auth_code":');
    expect(malformed.status).toBe(400);
    expect(malformed.json.error_code).toBe('bad_json');
    const nul = await tokenGrant(JSON.stringify({ auth_code: 'a\u0000b', code_verifier: 'v\u0000' }));
    expect(nul.status).toBeGreaterThanOrEqual(400);
    expect(nul.status).toBeLessThan(500);
    const huge = await tokenGrant(JSON.stringify({ auth_code: 'a'.repeat(100_000), code_verifier: 'v' }));
    expect(huge.status).toBeGreaterThanOrEqual(400);
    expect(huge.status).toBeLessThan(500);

    const signUp = (body: Record<string, unknown>) =>
      fetch(`${server.url}/auth/v1/signup`, {
        method: 'POST',
        headers: { apikey: server.anonKey, 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'pk-input@example.com', password: 'input password', ...body }),
      });
    for (const body of [
      { code_challenge: 'a'.repeat(43) },
      { code_challenge: 'short', code_challenge_method: 's256' },
      { code_challenge: `${'a'.repeat(42)}!`, code_challenge_method: 's256' },
      { code_challenge: 'a'.repeat(43), code_challenge_method: 'md5' },
      { code_challenge: `${'a'.repeat(42)}\u0000`, code_challenge_method: 'plain' },
    ]) {
      const response = await signUp(body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(((await response.json()) as { error_code: string }).error_code).toBe('validation_failed');
    }
    expect((await server.sql.query(`select 1 from auth.users where email = 'pk-input@example.com'`)).rowCount).toBe(0);

    // Plain, in capitals, works too.
    const verifier = 'p'.repeat(43);
    const mail = await mailFrom('pk-input@example.com', () =>
      signUp({ code_challenge: verifier, code_challenge_method: 'PLAIN' }),
    );
    const code = (await follow(mail)).location.searchParams.get('code') ?? '';
    const exchanged = await tokenGrant(JSON.stringify({ auth_code: code, code_verifier: verifier }));
    expect(exchanged.status).toBe(200);
    expect((exchanged.json.user as { email: string }).email).toBe('pk-input@example.com');
  });
});
