/**
 * Auth hooks as Postgres functions (pg-functions://postgres/public/<fn>), set up the way Supabase's
 * docs tell users to (grants to supabase_auth_admin), driven through supabase-js: a custom claim an
 * RLS policy reads, the password and MFA verification hooks rejecting attempts, the send_email hook
 * replacing the mailer, and the failures (timeout, exception, wrong shape, a hook's own error).
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { decodeJwt } from 'jose';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let admin: SupabaseClient;
const client = (): SupabaseClient => supabaseClient(server);

const HOOKS_SQL = `
  create table public.user_roles (user_id uuid primary key, role text not null);
  create table public.documents (id int primary key, title text not null, clearance text not null);
  insert into public.documents values (1, 'lunch menu', 'everyone'), (2, 'payroll', 'admin');
  alter table public.documents enable row level security;
  grant select on public.documents to authenticated;
  create policy "by clearance" on public.documents for select to authenticated
    using (clearance = 'everyone' or (auth.jwt() ->> 'user_role') = 'admin');

  -- Supabase's documented custom claims hook, with test switches keyed on the address.
  create function public.custom_access_token_hook(event jsonb) returns jsonb language plpgsql as $$
  declare
    claims jsonb := event -> 'claims';
    email text := claims ->> 'email';
    user_role text;
  begin
    if email like 'slow%' then perform pg_sleep(3); end if;
    if email like 'shapeless%' then return jsonb_build_object('claims', claims - 'aud'); end if;
    if email like 'mistyped%' then return jsonb_build_object('claims', jsonb_set(claims, '{exp}', '"soon"')); end if;
    if email like 'raise%' then raise exception 'the hook exploded'; end if;
    if email like 'refused%' then return '{"error": {"http_code": 403, "message": "No tokens for you"}}'::jsonb; end if;
    if email like 'empty%' then return '{}'::jsonb; end if;
    select r.role into user_role from public.user_roles r where r.user_id = (event ->> 'user_id')::uuid;
    claims := jsonb_set(claims, '{user_role}', coalesce(to_jsonb(user_role), 'null'::jsonb));
    claims := jsonb_set(claims, '{hook_ran_as}', to_jsonb(current_user::text));
    claims := jsonb_set(claims, '{hook_method}', event -> 'authentication_method');
    return jsonb_build_object('claims', claims);
  end $$;

  create table public.locked_users (user_id uuid primary key);
  create table public.password_attempts (user_id uuid not null, valid boolean not null);
  create function public.password_hook(event jsonb) returns jsonb language plpgsql as $$
  begin
    insert into public.password_attempts values ((event ->> 'user_id')::uuid, (event ->> 'valid')::boolean);
    if exists (select 1 from public.locked_users where user_id = (event ->> 'user_id')::uuid) then
      return jsonb_build_object('decision', 'reject', 'message', 'Account locked by policy', 'should_logout_user', true);
    end if;
    return '{"decision": "continue"}'::jsonb;
  end $$;

  create function public.mfa_hook(event jsonb) returns jsonb language plpgsql as $$
  begin
    if not (event ->> 'valid')::boolean then
      return '{"decision": "reject", "message": "One wrong code is one too many"}'::jsonb;
    end if;
    return '{"decision": "continue"}'::jsonb;
  end $$;

  create table public.outbound_emails (id serial primary key, payload jsonb not null);
  create function public.send_email_hook(event jsonb) returns jsonb language plpgsql as $$
  begin
    if event -> 'user' ->> 'email' like 'bounce%' then raise exception 'no mail today'; end if;
    insert into public.outbound_emails (payload) values (event);
    return '{}'::jsonb;
  end $$;

  grant usage on schema public to supabase_auth_admin;
  grant execute on function public.custom_access_token_hook, public.password_hook, public.mfa_hook,
    public.send_email_hook to supabase_auth_admin;
  revoke execute on function public.custom_access_token_hook, public.password_hook, public.mfa_hook,
    public.send_email_hook from authenticated, anon, public;
  grant select on public.user_roles, public.locked_users to supabase_auth_admin;
  grant insert on public.password_attempts, public.outbound_emails to supabase_auth_admin;
  grant usage on sequence public.outbound_emails_id_seq to supabase_auth_admin;
  revoke all on public.user_roles, public.locked_users, public.password_attempts, public.outbound_emails
    from authenticated, anon;
`;

beforeAll(async () => {
  server = await startTestServer({
    migrations: { '20240101000000_hooks.sql': HOOKS_SQL },
    env: {
      AUTH_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED: 'true',
      AUTH_HOOK_CUSTOM_ACCESS_TOKEN_URI: 'pg-functions://postgres/public/custom_access_token_hook',
      AUTH_HOOK_PASSWORD_VERIFICATION_ATTEMPT_ENABLED: 'true',
      AUTH_HOOK_PASSWORD_VERIFICATION_ATTEMPT_URI: 'pg-functions://postgres/public/password_hook',
      AUTH_HOOK_MFA_VERIFICATION_ATTEMPT_ENABLED: 'true',
      AUTH_HOOK_MFA_VERIFICATION_ATTEMPT_URI: 'pg-functions://postgres/public/mfa_hook',
      AUTH_HOOK_SEND_EMAIL_ENABLED: 'true',
      AUTH_HOOK_SEND_EMAIL_URI: 'pg-functions://postgres/public/send_email_hook',
      AUTH_HOOK_PG_TIMEOUT_MS: '500',
    },
  });
  admin = supabaseClient(server, server.serviceRoleKey);
});
afterAll(async () => {
  await server?.stop();
});

async function createUser(email: string, password = 'a good password'): Promise<string> {
  const { data, error } = await admin.auth.admin.createUser({ email, password, email_confirm: true });
  expect(error).toBeNull();
  return data.user?.id ?? '';
}

async function count(sql: string, values: unknown[] = []): Promise<number> {
  return Number((await server.sql.query<{ n: string }>(`select count(*) as n from (${sql}) q`, values)).rows[0]?.n);
}

/** POST /token as auth-js sends it, for the body of an answer auth-js does not read (a 500). */
async function rawSignIn(email: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/auth/v1/token?grant_type=password`, {
    method: 'POST',
    headers: { apikey: server.anonKey, 'content-type': 'application/json', 'x-supabase-api-version': '2024-01-01' },
    body: JSON.stringify({ email, password: 'a good password' }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('custom_access_token', () => {
  test('a claim the hook adds reaches RLS: only the admin reads the payroll', async () => {
    const bossId = await createUser('boss@example.com');
    await createUser('clerk@example.com');
    await server.sql.query(`insert into public.user_roles values ($1, 'admin')`, [bossId]);

    const boss = client();
    const signedIn = await boss.auth.signInWithPassword({ email: 'boss@example.com', password: 'a good password' });
    expect(signedIn.error).toBeNull();
    const claims = decodeJwt(signedIn.data.session?.access_token ?? '');
    expect(claims).toMatchObject({ user_role: 'admin', hook_ran_as: 'supabase_auth_admin', hook_method: 'password' });
    expect(claims.sub).toBe(bossId);
    const bossRows = await boss.from('documents').select('title').order('id');
    expect(bossRows.error).toBeNull();
    expect(bossRows.data).toEqual([{ title: 'lunch menu' }, { title: 'payroll' }]);

    const clerk = client();
    await clerk.auth.signInWithPassword({ email: 'clerk@example.com', password: 'a good password' });
    const clerkRows = await clerk.from('documents').select('title').order('id');
    expect(clerkRows.data).toEqual([{ title: 'lunch menu' }]);

    // A refreshed token is made by the hook too, and says how it came about.
    const refreshed = await boss.auth.refreshSession();
    expect(decodeJwt(refreshed.data.session?.access_token ?? '')).toMatchObject({
      user_role: 'admin',
      hook_method: 'token_refresh',
    });
  });

  test.each([
    [
      'slow',
      500,
      'unexpected_failure',
      /Error running hook URI: pg-functions:\/\/postgres\/public\/custom_access_token_hook/,
    ],
    ['raise', 500, 'unexpected_failure', /Error running hook URI/],
    [
      'shapeless',
      500,
      'unexpected_failure',
      /output claims do not conform to the expected schema: \n- \(root\): aud is required/,
    ],
    ['mistyped', 500, 'unexpected_failure', /exp: Invalid type. Expected: integer, given: string/],
    ['empty', 500, 'unexpected_failure', /output claims field is missing/],
    ['refused', 403, 'unknown', /^No tokens for you$/],
  ])('a hook that answers "%s" gets GoTrue\'s error and no session', async (kind, status, code, message) => {
    const email = `${kind}@example.com`;
    const userId = await createUser(email);
    const { data, error } = await client().auth.signInWithPassword({ email, password: 'a good password' });
    expect(data.session).toBeNull();
    expect(error?.status).toBe(status);
    // auth-js reads no body of a 500 (it is "retryable"): the body itself is GoTrue's.
    const raw = await rawSignIn(email);
    expect(raw.status).toBe(status);
    expect(raw.body.code).toBe(code);
    expect(raw.body.message).toMatch(message);
    expect(await count('select 1 from auth.sessions where user_id = $1', [userId])).toBe(0);
    expect(await count('select 1 from auth.refresh_tokens where user_id = $1', [userId])).toBe(0);
  });

  test('a sign-up whose token the hook refuses leaves no user behind', async () => {
    const { error } = await client().auth.signUp({ email: 'refused-signup@example.com', password: 'a good password' });
    expect(error?.status).toBe(403);
    expect(await count(`select 1 from auth.users where email = 'refused-signup@example.com'`)).toBe(0);
  });
});

describe('password_verification_attempt', () => {
  test('the hook sees every check of a known user; a rejection signs the user out everywhere', async () => {
    const userId = await createUser('locked@example.com');
    const first = client();
    expect(
      (await first.auth.signInWithPassword({ email: 'locked@example.com', password: 'a good password' })).error,
    ).toBeNull();
    await client().auth.signInWithPassword({ email: 'locked@example.com', password: 'a wrong password' });
    const attempts = await server.sql.query('select valid from public.password_attempts where user_id = $1', [userId]);
    expect(attempts.rows).toEqual([{ valid: true }, { valid: false }]);

    await server.sql.query('insert into public.locked_users values ($1)', [userId]);
    const refused = await client().auth.signInWithPassword({
      email: 'locked@example.com',
      password: 'a good password',
    });
    expect(refused.error?.status).toBe(400);
    expect(refused.error?.code).toBe('invalid_credentials');
    expect(refused.error?.message).toBe('Account locked by policy');
    expect(await count('select 1 from auth.sessions where user_id = $1', [userId])).toBe(0);
    expect((await first.auth.refreshSession()).error?.code).toBe('refresh_token_not_found');
  });

  test('an unknown address never reaches the hook', async () => {
    const before = await count('select 1 from public.password_attempts');
    const { error } = await client().auth.signInWithPassword({ email: 'nobody@example.com', password: 'whatever' });
    expect(error?.code).toBe('invalid_credentials');
    expect(await count('select 1 from public.password_attempts')).toBe(before);
  });
});

describe('mfa_verification_attempt', () => {
  test('a rejected code answers 403 mfa_verification_rejected and ends the sessions; a right one passes', async () => {
    const userId = await createUser('twofactor@example.com');
    const user = client();
    await user.auth.signInWithPassword({ email: 'twofactor@example.com', password: 'a good password' });
    const enrolled = await user.auth.mfa.enroll({ factorType: 'totp' });
    expect(enrolled.error).toBeNull();
    const factorId = enrolled.data?.id ?? '';
    const secret = enrolled.data?.totp.secret ?? '';
    const challenge = await user.auth.mfa.challenge({ factorId });
    const right = await generate({ secret });
    const wrong = await user.auth.mfa.verify({
      factorId,
      challengeId: challenge.data?.id ?? '',
      code: right === '123456' ? '654321' : '123456',
    });
    expect(wrong.error?.status).toBe(403);
    expect(wrong.error?.code).toBe('mfa_verification_rejected');
    expect(wrong.error?.message).toBe('One wrong code is one too many');
    expect(await count('select 1 from auth.sessions where user_id = $1', [userId])).toBe(0);

    const again = client();
    await again.auth.signInWithPassword({ email: 'twofactor@example.com', password: 'a good password' });
    const verified = await again.auth.mfa.challengeAndVerify({ factorId, code: await generate({ secret }) });
    expect(verified.error).toBeNull();
    expect(decodeJwt(verified.data?.access_token ?? '')).toMatchObject({ aal: 'aal2', hook_method: 'totp' });
  });
});

describe('send_email', () => {
  test('the hook gets the mail instead of the mailer, and its token_hash and token work', async () => {
    await createUser('mailme@example.com');
    const outbox = await count('select 1 from trellis.mail_outbox');
    expect((await client().auth.signInWithOtp({ email: 'mailme@example.com' })).error).toBeNull();
    const row = await server.sql.query<{ payload: Record<string, any> }>(
      `select payload from public.outbound_emails where payload -> 'user' ->> 'email' = 'mailme@example.com'`,
    );
    const payload = row.rows[0]?.payload;
    expect(payload?.metadata?.name).toBe('send-email');
    expect(payload?.email_data).toMatchObject({
      email_action_type: 'magiclink',
      token: expect.stringMatching(/^\d{6}$/),
      token_hash: expect.any(String),
      redirect_to: expect.any(String),
      site_url: `${server.url}/auth/v1`,
      token_new: '',
      token_hash_new: '',
    });
    expect(await count('select 1 from trellis.mail_outbox')).toBe(outbox);
    const verified = await client().auth.verifyOtp({ token_hash: payload?.email_data.token_hash, type: 'email' });
    expect(verified.error).toBeNull();
    expect(verified.data.user?.email).toBe('mailme@example.com');
  });

  test("a failing hook answers GoTrue's error and the sign-up it was for is undone", async () => {
    const { error } = await client().auth.signInWithOtp({ email: 'bounce@example.com' });
    expect(error?.status).toBe(500);
    const raw = await fetch(`${server.url}/auth/v1/otp`, {
      method: 'POST',
      headers: { apikey: server.anonKey, 'content-type': 'application/json', 'x-supabase-api-version': '2024-01-01' },
      body: JSON.stringify({ email: 'bounce@example.com' }),
    });
    expect(raw.status).toBe(500);
    expect(await raw.json()).toEqual({
      code: 'unexpected_failure',
      message: 'Error running hook URI: pg-functions://postgres/public/send_email_hook',
    });
    expect(await count(`select 1 from auth.users where email = 'bounce@example.com'`)).toBe(0);
  });
});
