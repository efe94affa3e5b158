/**
 * Abuse of the mail budget and of attempts (issue 12, item 7), through supabase-js against the real
 * server: anonymous requests for new addresses cannot starve existing users' recovery mails, one
 * client cannot spend the server's budget, guessing a password from many addresses is cut off per
 * account, and a one-time code or TOTP challenge dies after a few wrong tries.
 * Clients claim their address with X-Forwarded-For, which the server trusts (TRUST_PROXY).
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';
import { startMailSink, type MailSink } from '../../helpers/smtp.js';

/** A client whose requests come from `ip` (as the trusted proxy reports it). */
function clientFrom(server: TestServer, ip: string): SupabaseClient {
  return createClient(server.url, server.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: { headers: { 'x-forwarded-for': ip } },
    realtime: { transport: WebSocket as unknown as never },
  });
}

async function createConfirmedUser(server: TestServer, email: string, password: string): Promise<void> {
  const { error } = await supabaseClient(server, server.serviceRoleKey).auth.admin.createUser({
    email,
    password,
    email_confirm: true,
  });
  if (error) throw error;
}

async function userCount(server: TestServer, email: string): Promise<number> {
  return (await server.sql.query('select 1 from auth.users where email = $1', [email])).rowCount ?? 0;
}

const ipNumber = (i: number) => `198.51.100.${i}`;

describe('the server-wide mail budget keeps a reserve for existing users', () => {
  let server: TestServer;
  let sink: MailSink;
  beforeAll(async () => {
    sink = await startMailSink();
    // The defaults of AUTH_RATE_LIMIT_EMAIL_SENT (30) and AUTH_EMAIL_RESERVE_PERCENT (25): 7 kept.
    server = await startTestServer({
      env: { SMTP_URL: sink.url, TRUST_PROXY: 'true', AUTH_RATE_LIMIT_EMAIL_PER_IP: '10' },
    });
    await createConfirmedUser(server, 'ada@example.com', 'ada password');
    await createConfirmedUser(server, 'bea@example.com', 'bea password');
  });
  afterAll(async () => {
    await server?.stop();
    await sink?.close();
  });

  test('40 anonymous OTP requests for new addresses from 40 clients spend only the unreserved 23 mails', async () => {
    const outcomes = [];
    for (let i = 0; i < 40; i++) {
      const { error } = await clientFrom(server, ipNumber(i + 1)).auth.signInWithOtp({ email: `new${i}@example.com` });
      outcomes.push(error === null ? 'sent' : `${error.status} ${error.code}`);
    }
    expect(outcomes.filter((o) => o === 'sent')).toHaveLength(23);
    expect(outcomes.slice(23)).toEqual(Array(17).fill('429 over_email_send_rate_limit'));
    // A refused request leaves no user behind.
    expect(await userCount(server, 'new39@example.com')).toBe(0);
  });

  test('a password reset and a magic link for existing users still go out, from the reserve', async () => {
    const since = sink.mails.length;
    expect((await clientFrom(server, '203.0.113.7').auth.resetPasswordForEmail('ada@example.com')).error).toBeNull();
    expect(
      (
        await clientFrom(server, '203.0.113.8').auth.signInWithOtp({
          email: 'bea@example.com',
          options: { shouldCreateUser: false },
        })
      ).error,
    ).toBeNull();
    await sink.next('ada@example.com', since);
    await sink.next('bea@example.com', since);
    // New addresses cannot reach into the reserve, whoever asks.
    const late = await clientFrom(server, '203.0.113.9').auth.signInWithOtp({ email: 'late@example.com' });
    expect(late.error?.status).toBe(429);
    expect(late.error?.code).toBe('over_email_send_rate_limit');
  });
});

describe('mail budgets per client and per address', () => {
  let server: TestServer;
  let sink: MailSink;
  beforeAll(async () => {
    sink = await startMailSink();
    server = await startTestServer({
      env: {
        SMTP_URL: sink.url,
        TRUST_PROXY: 'true',
        AUTH_RATE_LIMIT_EMAIL_PER_IP: '10',
        AUTH_RATE_LIMIT_EMAIL_PER_ADDRESS: '3',
      },
    });
    await createConfirmedUser(server, 'cy@example.com', 'cy password');
    await createConfirmedUser(server, 'di@example.com', 'di password');
  });
  afterAll(async () => {
    await server?.stop();
    await sink?.close();
  });

  test('31 anonymous OTP requests from one client: 10 are sent, and a password reset from elsewhere still goes out', async () => {
    const attacker = clientFrom(server, '192.0.2.66');
    const outcomes = [];
    for (let i = 0; i < 31; i++) {
      const { error } = await attacker.auth.signInWithOtp({ email: `spam${i}@example.com` });
      outcomes.push(error === null ? 'sent' : `${error.status} ${error.code} ${error.message}`);
    }
    expect(outcomes.slice(0, 10)).toEqual(Array(10).fill('sent'));
    expect(outcomes.slice(10)).toEqual(Array(21).fill('429 over_email_send_rate_limit email rate limit exceeded'));
    // The same client asking for an existing user's reset is still over its own budget.
    expect((await attacker.auth.resetPasswordForEmail('cy@example.com')).error?.code).toBe(
      'over_email_send_rate_limit',
    );

    const since = sink.mails.length;
    expect((await clientFrom(server, '192.0.2.67').auth.resetPasswordForEmail('cy@example.com')).error).toBeNull();
    await sink.next('cy@example.com', since);
  });

  test('one address gets AUTH_RATE_LIMIT_EMAIL_PER_ADDRESS mails an hour, from any clients', async () => {
    // cy had one reset above; two more, each from another client, then the fourth is refused.
    for (const ip of ['192.0.2.70', '192.0.2.71'])
      expect((await clientFrom(server, ip).auth.resetPasswordForEmail('cy@example.com')).error).toBeNull();
    const fourth = await clientFrom(server, '192.0.2.72').auth.resetPasswordForEmail('cy@example.com');
    expect(fourth.error?.status).toBe(429);
    expect(fourth.error?.code).toBe('over_email_send_rate_limit');
    expect((await clientFrom(server, '192.0.2.73').auth.resetPasswordForEmail('di@example.com')).error).toBeNull();
  });

  test('admin invites with the service role key do not count against the caller address', async () => {
    const admin = createClient(server.url, server.serviceRoleKey, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      global: { headers: { 'x-forwarded-for': '192.0.2.66' } },
      realtime: { transport: WebSocket as unknown as never },
    });
    expect((await admin.auth.admin.inviteUserByEmail('invitee@example.com')).error).toBeNull();
  });
});

describe('wrong passwords per account, from any client address', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { TRUST_PROXY: 'true', AUTH_RATE_LIMIT_PASSWORD_FAILURES: '5' } });
    for (const name of ['eve', 'fay', 'gus', 'hal'])
      await createConfirmedUser(server, `${name}@example.com`, `${name} password`);
  });
  afterAll(async () => {
    await server?.stop();
  });

  test('80 wrong passwords from 80 addresses: 5 are evaluated, 75 get 429, and then the right one does too', async () => {
    const outcomes = [];
    for (let i = 0; i < 80; i++) {
      const { error } = await clientFrom(
        server,
        `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      ).auth.signInWithPassword({ email: 'eve@example.com', password: `guess ${i}` });
      outcomes.push(`${error?.status} ${error?.code}`);
    }
    expect(outcomes.slice(0, 5)).toEqual(Array(5).fill('400 invalid_credentials'));
    expect(outcomes.slice(5)).toEqual(Array(75).fill('429 over_request_rate_limit'));

    const right = await clientFrom(server, '10.9.9.9').auth.signInWithPassword({
      email: 'EVE@example.com',
      password: 'eve password',
    });
    expect(right.error?.status).toBe(429);
    expect(right.error?.code).toBe('over_request_rate_limit');
    expect(right.data.session).toBeNull();

    // The refusal says how long to wait.
    const raw = await fetch(`${server.url}/auth/v1/token?grant_type=password`, {
      method: 'POST',
      headers: { apikey: server.anonKey, 'content-type': 'application/json', 'x-forwarded-for': '10.9.9.10' },
      body: JSON.stringify({ email: 'eve@example.com', password: 'eve password' }),
    });
    expect(raw.status).toBe(429);
    expect(Number(raw.headers.get('retry-after'))).toBeGreaterThan(800);

    // Other accounts are not affected.
    expect(
      (
        await clientFrom(server, '10.9.9.11').auth.signInWithPassword({
          email: 'fay@example.com',
          password: 'fay password',
        })
      ).error,
    ).toBeNull();
  });

  test('once the window has passed, the right password works again', async () => {
    await server.sql.query(
      `update trellis.auth_password_failures set window_ends_at = now() - interval '1 second' where email = 'eve@example.com'`,
    );
    const { data, error } = await clientFrom(server, '10.9.9.12').auth.signInWithPassword({
      email: 'eve@example.com',
      password: 'eve password',
    });
    expect(error).toBeNull();
    expect(data.session?.access_token).toBeTruthy();
  });

  test('right passwords do not count: a user who signs in often is never limited', async () => {
    for (let i = 0; i < 8; i++) {
      expect(
        (
          await clientFrom(server, `10.1.0.${i + 1}`).auth.signInWithPassword({
            email: 'gus@example.com',
            password: 'gus password',
          })
        ).error,
      ).toBeNull();
    }
  });

  test('20 concurrent wrong passwords still evaluate at most 5', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        clientFrom(server, `10.2.0.${i + 1}`).auth.signInWithPassword({
          email: 'hal@example.com',
          password: `guess ${i}`,
        }),
      ),
    );
    const codes = results.map((r) => r.error?.code);
    expect(codes.filter((c) => c === 'invalid_credentials').length).toBeLessThanOrEqual(5);
    expect(codes.filter((c) => c === 'over_request_rate_limit').length).toBeGreaterThanOrEqual(15);
  });

  test('an unregistered address is limited the same way, so the limit reveals nothing', async () => {
    const outcomes = [];
    for (let i = 0; i < 6; i++) {
      const { error } = await clientFrom(server, `10.3.0.${i + 1}`).auth.signInWithPassword({
        email: 'nobody@example.com',
        password: `guess ${i}`,
      });
      outcomes.push(error?.code);
    }
    expect(outcomes).toEqual([...Array(5).fill('invalid_credentials'), 'over_request_rate_limit']);
  });
});

describe('a one-time code dies after AUTH_OTP_MAX_ATTEMPTS wrong tries', () => {
  let server: TestServer;
  let admin: SupabaseClient;
  beforeAll(async () => {
    server = await startTestServer({ env: { TRUST_PROXY: 'true' } });
    admin = supabaseClient(server, server.serviceRoleKey);
    await createConfirmedUser(server, 'ivy@example.com', 'ivy password');
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function magicLink(email: string): Promise<{ code: string; hash: string; wrong: string }> {
    const link = await admin.auth.admin.generateLink({ type: 'magiclink', email });
    const code = link.data.properties?.email_otp ?? '';
    return { code, hash: link.data.properties?.hashed_token ?? '', wrong: code === '000000' ? '111111' : '000000' };
  }

  test('four wrong codes leave the code usable', async () => {
    const { code, wrong } = await magicLink('ivy@example.com');
    for (let i = 0; i < 4; i++) {
      const { error } = await clientFrom(server, `172.16.0.${i + 1}`).auth.verifyOtp({
        email: 'ivy@example.com',
        token: wrong,
        type: 'email',
      });
      expect(error?.code).toBe('otp_expired');
    }
    expect(
      (await clientFrom(server, '172.16.0.9').auth.verifyOtp({ email: 'ivy@example.com', token: code, type: 'email' }))
        .error,
    ).toBeNull();
  });

  test('the fifth wrong code, from yet another address, kills it: the right code and its link then get otp_expired', async () => {
    const { code, hash, wrong } = await magicLink('ivy@example.com');
    for (let i = 0; i < 5; i++) {
      const { error } = await clientFrom(server, `172.17.0.${i + 1}`).auth.verifyOtp({
        email: 'ivy@example.com',
        token: wrong,
        type: 'email',
      });
      expect(error?.status).toBe(403);
      expect(error?.code).toBe('otp_expired');
      expect(error?.message).toBe('Token has expired or is invalid');
    }
    const right = await clientFrom(server, '172.17.0.9').auth.verifyOtp({
      email: 'ivy@example.com',
      token: code,
      type: 'email',
    });
    expect(right.error?.status).toBe(403);
    expect(right.error?.code).toBe('otp_expired');
    expect(right.error?.message).toBe('Token has expired or is invalid');
    expect(right.data.session).toBeNull();
    const link = await clientFrom(server, '172.17.0.10').auth.verifyOtp({ token_hash: hash, type: 'magiclink' });
    expect(link.error?.code).toBe('otp_expired');
    expect(
      (
        await server.sql.query(
          `select 1 from auth.one_time_tokens t join auth.users u on u.id = t.user_id where u.email = 'ivy@example.com'`,
        )
      ).rowCount,
    ).toBe(0);
  });

  test('a new code starts with a clean count', async () => {
    const { code, wrong } = await magicLink('ivy@example.com');
    expect(
      (await clientFrom(server, '172.18.0.1').auth.verifyOtp({ email: 'ivy@example.com', token: wrong, type: 'email' }))
        .error?.code,
    ).toBe('otp_expired');
    expect(
      (await clientFrom(server, '172.18.0.2').auth.verifyOtp({ email: 'ivy@example.com', token: code, type: 'email' }))
        .error,
    ).toBeNull();
  });
});

describe('a TOTP challenge dies after AUTH_OTP_MAX_ATTEMPTS wrong codes', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { AUTH_OTP_MAX_ATTEMPTS: '3' } });
    await createConfirmedUser(server, 'jo@example.com', 'jo password');
  });
  afterAll(async () => {
    await server?.stop();
  });

  test('after three wrong codes the right one gets mfa_challenge_expired; a new challenge works', async () => {
    const c = supabaseClient(server);
    expect((await c.auth.signInWithPassword({ email: 'jo@example.com', password: 'jo password' })).error).toBeNull();
    const enrolled = await c.auth.mfa.enroll({ factorType: 'totp' });
    if (enrolled.error) throw enrolled.error;
    const factorId = enrolled.data.id;
    const secret = enrolled.data.totp.secret;
    const right = await generate({ secret });
    const wrong = String((Number(right) + 500_000) % 1_000_000).padStart(6, '0');

    const challenge = await c.auth.mfa.challenge({ factorId });
    if (challenge.error) throw challenge.error;
    for (let i = 0; i < 3; i++) {
      const { error } = await c.auth.mfa.verify({ factorId, challengeId: challenge.data.id, code: wrong });
      expect(error?.code).toBe('mfa_verification_failed');
    }
    const late = await c.auth.mfa.verify({ factorId, challengeId: challenge.data.id, code: right });
    expect(late.error?.status).toBe(422);
    expect(late.error?.code).toBe('mfa_challenge_expired');

    const fresh = await c.auth.mfa.challenge({ factorId });
    if (fresh.error) throw fresh.error;
    expect(
      (await c.auth.mfa.verify({ factorId, challengeId: fresh.data.id, code: await generate({ secret }) })).error,
    ).toBeNull();
  });
});

describe('bad input around the limited endpoints is a 4xx', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { TRUST_PROXY: 'true' } });
    await createConfirmedUser(server, 'kit@example.com', 'kit password');
  });
  afterAll(async () => {
    await server?.stop();
  });

  const cases: [string, string, unknown][] = [
    ['a huge code', '/verify', { type: 'email', email: 'kit@example.com', token: '1'.repeat(100_000) }],
    ['a code of 513 characters', '/verify', { type: 'email', email: 'kit@example.com', token: '1'.repeat(513) }],
    ['a NUL byte in the code', '/verify', { type: 'email', email: 'kit@example.com', token: '12\u000034' }],
    [
      'a NUL byte in the email of a code',
      '/verify',
      { type: 'email', email: 'kit\u0000@example.com', token: '123456' },
    ],
    ['a NUL byte in a token hash', '/verify', { type: 'magiclink', token_hash: 'abc\u0000def' }],
    ['a numeric code', '/verify', { type: 'email', email: 'kit@example.com', token: 123456 }],
    ['an object as email', '/verify', { type: 'email', email: { a: 1 }, token: '123456' }],
    [
      'a NUL byte in the email of a sign-in',
      '/token?grant_type=password',
      { email: 'kit\u0000@example.com', password: 'x' },
    ],
    [
      'a NUL byte in the password',
      '/token?grant_type=password',
      { email: 'kit@example.com', password: 'kit\u0000password' },
    ],
    [
      'a password that is an array',
      '/token?grant_type=password',
      { email: 'kit@example.com', password: ['kit password'] },
    ],
    ['an email that is a number', '/token?grant_type=password', { email: 42, password: 'kit password' }],
    [
      'a 2000-character email',
      '/token?grant_type=password',
      { email: `${'a'.repeat(2000)}@example.com`, password: 'x' },
    ],
    ['a NUL byte in an OTP address', '/otp', { email: 'new\u0000@example.com' }],
    ['an OTP address that is an array', '/otp', { email: ['a@example.com'] }],
    ['a NUL byte in a recovery address', '/recover', { email: 'kit@example.com\u0000' }],
    ['a recovery address that is an object', '/recover', { email: { $ne: null } }],
  ];

  test.each(cases)('%s', async (_name, path, body) => {
    const res = await fetch(`${server.url}/auth/v1${path}`, {
      method: 'POST',
      headers: { apikey: server.anonKey, 'content-type': 'application/json', 'x-forwarded-for': '100.64.0.1' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });

  test('an X-Forwarded-For that is no address is not a key of its own', async () => {
    const res = await fetch(`${server.url}/auth/v1/token?grant_type=password`, {
      method: 'POST',
      headers: { apikey: server.anonKey, 'content-type': 'application/json', 'x-forwarded-for': `${'x'.repeat(5000)}` },
      body: JSON.stringify({ email: 'kit@example.com', password: 'wrong' }),
    });
    expect(res.status).toBe(400);
  });
});
