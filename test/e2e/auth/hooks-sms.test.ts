/**
 * The send_sms hook as a Postgres function, through supabase-js, with no SMS provider configured:
 * the code of a phone sign-in and of a phone MFA challenge reaches the hook (GoTrue's payload
 * `{user, sms: {otp, phone, sms_type}}`) instead of a provider, and a hook that fails answers
 * with its error and leaves no user behind. A phone-only user's reauthentication nonce is texted too.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

let server: TestServer;

const HOOK_SQL = `
  create table public.outbound_texts (id serial primary key, payload jsonb not null);
  create function public.send_sms_hook(event jsonb) returns jsonb language plpgsql as $$
  begin
    if event -> 'sms' ->> 'phone' like '1555000999%' then raise exception 'the texting service is down'; end if;
    insert into public.outbound_texts (payload) values (event);
    return '{}'::jsonb;
  end $$;
  grant usage on schema public to supabase_auth_admin;
  grant execute on function public.send_sms_hook to supabase_auth_admin;
  revoke execute on function public.send_sms_hook from authenticated, anon, public;
  grant insert on public.outbound_texts to supabase_auth_admin;
  grant usage on sequence public.outbound_texts_id_seq to supabase_auth_admin;
`;

beforeAll(async () => {
  server = await startTestServer({
    migrations: { '20240101000000_sms_hook.sql': HOOK_SQL },
    env: {
      AUTH_SMS_ENABLE_SIGNUP: 'true',
      AUTH_SMS_MAX_FREQUENCY: '60',
      AUTH_MFA_PHONE_ENROLL_ENABLED: 'true',
      AUTH_MFA_PHONE_VERIFY_ENABLED: 'true',
      AUTH_SECURE_PASSWORD_CHANGE: 'true',
      AUTH_HOOK_SEND_SMS_ENABLED: 'true',
      AUTH_HOOK_SEND_SMS_URI: 'pg-functions://postgres/public/send_sms_hook',
    },
  });
});
afterAll(async () => {
  await server?.stop();
});

interface Texted {
  readonly user: { phone: string };
  readonly sms: { otp: string; phone: string; sms_type?: string };
}

async function lastText(): Promise<Texted | undefined> {
  const { rows } = await server.sql.query<{ payload: Texted }>(
    'select payload from public.outbound_texts order by id desc limit 1',
  );
  return rows[0]?.payload;
}

describe('send_sms hook', () => {
  test('a phone sign-in code goes to the hook, and that code signs in', async () => {
    const client = supabaseClient(server);
    const { error } = await client.auth.signInWithOtp({ phone: '+15550001234' });
    expect(error).toBeNull();
    const texted = await lastText();
    expect(texted?.sms.phone).toBe('15550001234');
    expect(texted?.sms.otp).toMatch(/^\d{6}$/);
    expect(texted?.user.phone).toBe('15550001234');
    const verified = await client.auth.verifyOtp({ phone: '+15550001234', token: texted?.sms.otp ?? '', type: 'sms' });
    expect(verified.error).toBeNull();
    expect(verified.data.session?.access_token).toBeTruthy();
  });

  test('a phone MFA challenge is texted through the hook with sms_type mfa', async () => {
    const client = supabaseClient(server);
    await client.auth.signInWithOtp({ phone: '+15550002222' });
    const code = (await lastText())?.sms.otp ?? '';
    const { data } = await client.auth.verifyOtp({ phone: '+15550002222', token: code, type: 'sms' });
    await client.auth.setSession({
      access_token: data.session?.access_token ?? '',
      refresh_token: data.session?.refresh_token ?? '',
    });
    const enrolled = await client.auth.mfa.enroll({ factorType: 'phone', phone: '+15550003333' });
    expect(enrolled.error).toBeNull();
    const challenge = await client.auth.mfa.challenge({ factorId: enrolled.data?.id ?? '' });
    expect(challenge.error).toBeNull();
    const texted = await lastText();
    expect(texted?.sms).toMatchObject({ phone: '15550003333', sms_type: 'mfa' });
    const verified = await client.auth.mfa.verify({
      factorId: enrolled.data?.id ?? '',
      challengeId: challenge.data?.id ?? '',
      code: texted?.sms.otp ?? '',
    });
    expect(verified.error).toBeNull();
  });

  test('a failing hook is the answer, and the number it could not text has no user', async () => {
    const client = supabaseClient(server);
    const { error } = await client.auth.signInWithOtp({ phone: '+15550009991' });
    expect(error?.status).toBe(500);
    const raw = await fetch(`${server.url}/auth/v1/otp`, {
      method: 'POST',
      headers: { apikey: server.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify({ phone: '+15550009992' }),
    });
    expect(raw.status).toBe(500);
    expect(await raw.json()).toMatchObject({
      error_code: 'unexpected_failure',
      msg: expect.stringMatching(/Error running hook URI/) as string,
    });
    const { rows } = await server.sql.query("select 1 from auth.users where phone in ('15550009991', '15550009992')");
    expect(rows).toHaveLength(0);
    // The server is fine afterwards.
    expect((await client.auth.signInWithOtp({ phone: '+15550004444' })).error).toBeNull();
  });
  test('a phone-only user reauthenticates with a texted nonce before changing an old session password', async () => {
    const client = supabaseClient(server);
    await client.auth.signInWithOtp({ phone: '+15550005555' });
    const { data } = await client.auth.verifyOtp({
      phone: '+15550005555',
      token: (await lastText())?.sms.otp ?? '',
      type: 'sms',
    });
    await client.auth.setSession({
      access_token: data.session?.access_token ?? '',
      refresh_token: data.session?.refresh_token ?? '',
    });
    // A day-old session must prove itself again before a password change.
    await server.sql.query(`update auth.sessions set created_at = now() - interval '2 days' where user_id = $1`, [
      data.user?.id,
    ]);
    expect((await client.auth.updateUser({ password: 'a new password' })).error?.code).toBe('reauthentication_needed');
    expect((await client.auth.reauthenticate()).error).toBeNull();
    const nonce = (await lastText())?.sms.otp ?? '';
    expect(nonce).toMatch(/^\d{6}$/);
    expect((await client.auth.updateUser({ password: 'a new password', nonce: '000000' })).error?.code).toBe(
      'reauthentication_not_valid',
    );
    expect((await client.auth.updateUser({ password: 'a new password', nonce })).error).toBeNull();
    const signedIn = await supabaseClient(server).auth.signInWithPassword({
      phone: '+15550005555',
      password: 'a new password',
    });
    expect(signedIn.error).toBeNull();
  });

  test('reauthentication texts: one per AUTH_SMS_MAX_FREQUENCY per user; a failed one does not start the wait', async () => {
    const client = supabaseClient(server);
    await client.auth.signInWithOtp({ phone: '+15550006666' });
    const { data } = await client.auth.verifyOtp({
      phone: '+15550006666',
      token: (await lastText())?.sms.otp ?? '',
      type: 'sms',
    });
    await client.auth.setSession({
      access_token: data.session?.access_token ?? '',
      refresh_token: data.session?.refresh_token ?? '',
    });
    expect((await client.auth.reauthenticate()).error).toBeNull();
    const again = await client.auth.reauthenticate();
    expect(again.error?.code).toBe('over_sms_send_rate_limit');
    expect(again.error?.status).toBe(429);
    expect(again.error?.message).toMatch(/^For security purposes, you can only request this after \d+ seconds\.$/);

    // A number the hook cannot text: the nonce that never went out leaves no wait behind.
    const admin = supabaseClient(server, server.serviceRoleKey);
    const created = await admin.auth.admin.createUser({
      phone: '15550009993',
      phone_confirm: true,
      password: 'phone password 9',
    });
    expect(created.error).toBeNull();
    const unlucky = supabaseClient(server);
    expect(
      (await unlucky.auth.signInWithPassword({ phone: '+15550009993', password: 'phone password 9' })).error,
    ).toBeNull();
    expect((await unlucky.auth.reauthenticate()).error?.status).toBe(500);
    const row = await server.sql.query<{ sent: Date | null; token: string | null }>(
      'select reauthentication_sent_at as sent, reauthentication_token as token from auth.users where phone = $1',
      ['15550009993'],
    );
    expect(row.rows[0]?.sent).toBeNull();
    expect(row.rows[0]?.token ?? '').toBe('');
    expect((await unlucky.auth.reauthenticate()).error?.status).toBe(500);
  });
});
