/**
 * Rate limits answer 429 with GoTrue's error codes through supabase-js, and a refused request
 * leaves nothing behind (no user created for a mail that was not sent).
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let admin: SupabaseClient;
// Clients keep no session and never refresh on their own (see supabaseClient).
const client = (): SupabaseClient => supabaseClient(server);

beforeAll(async () => {
  server = await startTestServer({
    env: {
      AUTH_RATE_LIMIT_TOKEN_PASSWORD: '3',
      AUTH_RATE_LIMIT_EMAIL_SENT: '2',
      AUTH_RATE_LIMIT_VERIFY: '3',
      AUTH_RATE_LIMIT_TOKEN_REFRESH: '2',
      AUTH_RATE_LIMIT_ANONYMOUS_USERS: '1',
      AUTH_ANONYMOUS_SIGN_INS: 'true',
    },
  });
  admin = supabaseClient(server, server.serviceRoleKey);
  // Admin calls are not limited: the fixtures cost no points.
  for (const name of ['ada', 'bea']) {
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

async function userCount(email: string): Promise<number> {
  return (await server.sql.query('select 1 from auth.users where email = $1', [email])).rowCount ?? 0;
}

describe('emails per hour', () => {
  test('the third mail is over_email_send_rate_limit, and no user is created for an unsent mail', async () => {
    expect((await client().auth.resetPasswordForEmail('ada@example.com')).error).toBeNull();
    expect((await client().auth.signInWithOtp({ email: 'bea@example.com' })).error).toBeNull();
    const third = await client().auth.resetPasswordForEmail('ada@example.com');
    expect(third.error?.status).toBe(429);
    expect(third.error?.code).toBe('over_email_send_rate_limit');

    const otp = await client().auth.signInWithOtp({ email: 'newcomer@example.com' });
    expect(otp.error?.code).toBe('over_email_send_rate_limit');
    expect(await userCount('newcomer@example.com')).toBe(0);
    const invite = await admin.auth.admin.inviteUserByEmail('invitee@example.com');
    expect(invite.error?.code).toBe('over_email_send_rate_limit');
    expect(await userCount('invitee@example.com')).toBe(0);
    // Generated links are not mailed, so they are not limited.
    expect((await admin.auth.admin.generateLink({ type: 'magiclink', email: 'ada@example.com' })).error).toBeNull();
  });
});

describe('mails to one address', () => {
  test('a second mail to the same address within AUTH_EMAIL_MAX_FREQUENCY is refused', async () => {
    const strict = await startTestServer({ env: { AUTH_EMAIL_MAX_FREQUENCY: '60' } });
    try {
      const admin = supabaseClient(strict, strict.serviceRoleKey);
      await admin.auth.admin.createUser({ email: 'cy@example.com', password: 'cy password', email_confirm: true });
      const c = supabaseClient(strict);
      expect((await c.auth.resetPasswordForEmail('cy@example.com')).error).toBeNull();
      const again = await c.auth.signInWithOtp({ email: 'cy@example.com' });
      expect(again.error?.status).toBe(429);
      expect(again.error?.code).toBe('over_email_send_rate_limit');
      expect(again.error?.message).toBe('For security purposes, you can only request this after 60 seconds.');
      // Another address is not affected.
      await admin.auth.admin.createUser({ email: 'di@example.com', password: 'di password', email_confirm: true });
      expect((await c.auth.resetPasswordForEmail('di@example.com')).error).toBeNull();
    } finally {
      await strict.stop();
    }
  });
});

describe('sign-in attempts per address', () => {
  test('the fourth attempt is over_request_rate_limit, right password or not', async () => {
    expect((await client().auth.signInWithPassword({ email: 'ada@example.com', password: 'wrong' })).error?.code).toBe(
      'invalid_credentials',
    );
    expect(
      (await client().auth.signInWithPassword({ email: 'ada@example.com', password: 'ada password' })).error,
    ).toBeNull();
    expect(
      (await client().auth.signInWithPassword({ email: 'nobody@example.com', password: 'wrong' })).error?.code,
    ).toBe('invalid_credentials');
    const fourth = await client().auth.signInWithPassword({ email: 'ada@example.com', password: 'ada password' });
    expect(fourth.error?.status).toBe(429);
    expect(fourth.error?.code).toBe('over_request_rate_limit');
  });
});

describe('verification attempts per address', () => {
  test('guessing codes stops at the limit, even with the right one', async () => {
    const link = await admin.auth.admin.generateLink({ type: 'magiclink', email: 'bea@example.com' });
    const code = link.data.properties?.email_otp ?? '';
    const wrong = code === '000000' ? '111111' : '000000';
    for (let i = 0; i < 3; i++) {
      expect(
        (await client().auth.verifyOtp({ email: 'bea@example.com', token: wrong, type: 'email' })).error?.code,
      ).toBe('otp_expired');
    }
    const limited = await client().auth.verifyOtp({ email: 'bea@example.com', token: code, type: 'email' });
    expect(limited.error?.status).toBe(429);
    expect(limited.error?.code).toBe('over_request_rate_limit');
  });
});

describe('refresh grants and anonymous sign-ins per address', () => {
  test('the third refresh is limited; the second anonymous sign-in is limited', async () => {
    const anonymous = client();
    expect((await anonymous.auth.signInAnonymously()).error).toBeNull();
    expect((await client().auth.signInAnonymously()).error?.code).toBe('over_request_rate_limit');

    expect((await anonymous.auth.refreshSession()).error).toBeNull();
    expect((await anonymous.auth.refreshSession()).error).toBeNull();
    const third = await anonymous.auth.refreshSession();
    expect(third.error?.status).toBe(429);
    expect(third.error?.code).toBe('over_request_rate_limit');
  });
});
