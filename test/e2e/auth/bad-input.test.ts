/**
 * Bad input against /auth/v1: each request gets a 4xx with GoTrue's error code (never a 500), and
 * leaves no user, identity, session or token behind. Raw fetch where supabase-js would refuse to
 * send the request; supabase-js where it would send it. Mails go to trellis.mail_outbox (no SMTP).
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { decodeJwt, SignJWT } from 'jose';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

let server: TestServer;
// Clients keep no session and never refresh on their own (see supabaseClient).
const client = (): SupabaseClient => supabaseClient(server);

// A signed-in user with a pending magic-link code and a verified TOTP factor.
let alice: SupabaseClient;
let aliceToken = '';
let aliceId = '';
let factorId = '';
let totpSecret = '';
let otpLink = '';

beforeAll(async () => {
  server = await startTestServer({
    env: {
      AUTH_RATE_LIMIT_SIGN_IN: '10000',
      AUTH_RATE_LIMIT_VERIFY: '10000',
      AUTH_RATE_LIMIT_EMAIL_SENT: '10000',
      // Many bad codes and passwords for alice; the attempt limits have their own test (auth/abuse-limits).
      AUTH_OTP_MAX_ATTEMPTS: '1000',
      AUTH_RATE_LIMIT_PASSWORD_FAILURES: '10000',
      AUTH_REFRESH_TOKEN_REUSE_INTERVAL: '0',
    },
  });
  alice = client();
  const signUp = await alice.auth.signUp({
    email: 'alice@example.com',
    password: 'alice password',
    options: { data: { name: 'Alice' } },
  });
  if (signUp.error) throw signUp.error;
  aliceId = signUp.data.user?.id ?? '';
  const enrolled = await alice.auth.mfa.enroll({ factorType: 'totp' });
  factorId = enrolled.data?.id ?? '';
  totpSecret = enrolled.data?.totp.secret ?? '';
  const verified = await alice.auth.mfa.challengeAndVerify({ factorId, code: await generate({ secret: totpSecret }) });
  if (verified.error) throw verified.error;
  aliceToken = (await alice.auth.getSession()).data.session?.access_token ?? '';
  if ((await client().auth.signInWithOtp({ email: 'alice@example.com' })).error) throw new Error('otp');
  const mail = await server.sql.query<{ text: string }>(
    `select text from trellis.mail_outbox where recipient = 'alice@example.com' order by id desc limit 1`,
  );
  otpLink = /https?:\/\/\S+\/auth\/v1\/verify\?\S+/.exec(mail.rows[0]?.text ?? '')?.[0] ?? '';
});
afterAll(async () => {
  await server?.stop();
});

const TABLES = [
  'auth.users',
  'auth.identities',
  'auth.sessions',
  'auth.refresh_tokens',
  'auth.one_time_tokens',
  'auth.mfa_factors',
  'auth.mfa_amr_claims',
];

async function snapshot(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of TABLES)
    counts[table] = Number((await server.sql.query<{ n: string }>(`select count(*) as n from ${table}`)).rows[0]?.n);
  return counts;
}

/** Runs bad requests and checks they changed no auth table. */
async function leavesNothing(run: () => Promise<void>): Promise<void> {
  const before = await snapshot();
  await run();
  expect(await snapshot()).toEqual(before);
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** A request as auth-js makes it (apikey, API version header), with any body and headers. */
async function call(
  method: string,
  path: string,
  options: { body?: BodyInit; headers?: Record<string, string>; apikey?: string | null } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-supabase-api-version': '2024-01-01',
    ...options.headers,
  };
  if (options.apikey !== null) headers.apikey = options.apikey ?? server.anonKey;
  const response = await fetch(`${server.url}/auth/v1${path}`, {
    method,
    headers,
    body: options.body,
    redirect: 'manual',
  });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { raw: text };
  }
  return { status: response.status, body, headers: response.headers };
}

function expectError(answer: Answer, status: number, code?: string) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  if (code) expect(answer.body.code, JSON.stringify(answer.body)).toBe(code);
  expect(typeof answer.body.message).toBe('string');
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('malformed bodies', () => {
  test('JSON that does not parse is bad_json on every endpoint', async () => {
    await leavesNothing(async () => {
      for (const [method, path] of [
        ['POST', '/signup'],
        ['POST', '/token?grant_type=password'],
        ['POST', '/token?grant_type=refresh_token'],
        ['POST', '/otp'],
        ['POST', '/recover'],
        ['POST', '/verify'],
        ['POST', '/resend'],
      ] as const) {
        expectError(await call(method, path, { body: '{"email": "alice@example.com", ' }), 400, 'bad_json');
      }
      expectError(
        await call('PUT', '/user', { body: '{nope', headers: { authorization: `Bearer ${aliceToken}` } }),
        400,
        'bad_json',
      );
      expectError(
        await call('POST', '/factors', { body: 'email=x', headers: { authorization: `Bearer ${aliceToken}` } }),
        400,
        'bad_json',
      );
    });
  });

  test('JSON of the wrong shape is validation_failed', async () => {
    await leavesNothing(async () => {
      for (const body of [
        '[]',
        '"alice@example.com"',
        'null',
        '42',
        '{"email": ["alice@example.com"], "password": "x"}',
        '{"email": 1, "password": 2}',
      ]) {
        expectError(await call('POST', '/signup', { body }), 400, 'validation_failed');
      }
      expectError(
        await call('POST', '/signup', {
          body: JSON.stringify({ email: 'a@example.com', password: 'long enough', data: 'not an object' }),
        }),
        400,
        'validation_failed',
      );
      expectError(
        await call('POST', '/signup', {
          body: JSON.stringify({ email: 'a@example.com', password: 'long enough', data: [1, 2] }),
        }),
        400,
        'validation_failed',
      );
    });
  });

  test('a body over 256 KiB is 413, with or without a Content-Length', async () => {
    await leavesNothing(async () => {
      const huge = JSON.stringify({
        email: 'big@example.com',
        password: 'long enough',
        data: { blob: 'x'.repeat(300 * 1024) },
      });
      expectError(await call('POST', '/signup', { body: huge }), 413);
      const chunks = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < 40; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(10 * 1024)));
          controller.close();
        },
      });
      const streamed = await fetch(`${server.url}/auth/v1/signup`, {
        method: 'POST',
        headers: { apikey: server.anonKey, 'content-type': 'application/json' },
        body: chunks,
        duplex: 'half',
      } as RequestInit);
      expect(streamed.status).toBe(413);
    });
  });
});

describe('missing and invalid fields', () => {
  test('sign-up without a password, without an email, or with an invalid email', async () => {
    await leavesNothing(async () => {
      expectError(
        await call('POST', '/signup', { body: JSON.stringify({ email: 'nopass@example.com' }) }),
        400,
        'validation_failed',
      );
      expectError(
        await call('POST', '/signup', { body: JSON.stringify({ password: 'no email here' }) }),
        400,
        'validation_failed',
      );
      // Empty body with anonymous sign-ins off: that is signInAnonymously, refused.
      expectError(await call('POST', '/signup', { body: '' }), 422, 'anonymous_provider_disabled');
      for (const email of [
        'not-an-email',
        'a@b',
        'a b@example.com',
        '@example.com',
        'alice@',
        `${'x'.repeat(250)}@example.com`,
        'a\u0000b@example.com',
        'a@exa\r\nmple.com',
      ]) {
        const { error } = await client().auth.signUp({ email, password: 'long enough' });
        expect(error?.status, email).toBe(400);
        expect(error?.code, email).toBe('validation_failed');
      }
    });
  });

  test('a weak password is weak_password with its reasons', async () => {
    await leavesNothing(async () => {
      const { error } = await client().auth.signUp({ email: 'weak@example.com', password: '12345' });
      expect(error?.status).toBe(422);
      expect(error?.code).toBe('weak_password');
      expect(error?.name).toBe('AuthWeakPasswordError');
      expect((error as unknown as { reasons: string[] }).reasons).toEqual(['length']);
      const tooLong = await client().auth.signUp({ email: 'long@example.com', password: 'é'.repeat(40) });
      expect(tooLong.error?.status).toBe(400);
    });
  });

  test('sign-in without credentials, and grant types that do not exist', async () => {
    await leavesNothing(async () => {
      expectError(await call('POST', '/token?grant_type=password', { body: '{}' }), 400, 'invalid_credentials');
      expectError(
        await call('POST', '/token?grant_type=password', { body: JSON.stringify({ email: 'alice@example.com' }) }),
        400,
        'invalid_credentials',
      );
      expectError(await call('POST', '/token?grant_type=refresh_token', { body: '{}' }), 400, 'validation_failed');
      // An ID-token grant without its token is refused as GoTrue refuses it, before the provider.
      expectError(await call('POST', '/token?grant_type=id_token', { body: '{}' }), 400, 'validation_failed');
      // A PKCE grant without its code and verifier is refused as GoTrue refuses it.
      expectError(await call('POST', '/token?grant_type=pkce', { body: '{}' }), 400, 'validation_failed');
      for (const grant of ['magic', '', 'password%00']) {
        expectError(await call('POST', `/token?grant_type=${grant}`, { body: '{}' }), 400, 'unsupported_grant_type');
      }
      expectError(await call('POST', '/token', { body: '{}' }), 400, 'unsupported_grant_type');
    });
  });

  test('verify, recover, otp and resend without what they need', async () => {
    await leavesNothing(async () => {
      expectError(
        await call('POST', '/verify', { body: JSON.stringify({ type: 'signup' }) }),
        400,
        'validation_failed',
      );
      expectError(
        await call('POST', '/verify', { body: JSON.stringify({ type: 'bogus', token_hash: 'x' }) }),
        400,
        'validation_failed',
      );
      expectError(
        await call('POST', '/verify', { body: JSON.stringify({ type: 'email', token: '123456' }) }),
        400,
        'validation_failed',
      );
      expectError(await call('POST', '/recover', { body: '{}' }), 400, 'validation_failed');
      expectError(await call('POST', '/otp', { body: '{}' }), 400, 'validation_failed');
      expectError(await call('POST', '/otp', { body: JSON.stringify({ email: 'nope' }) }), 400, 'validation_failed');
      expectError(
        await call('POST', '/resend', { body: JSON.stringify({ type: 'signup' }) }),
        400,
        'validation_failed',
      );
      expectError(
        await call('POST', '/resend', { body: JSON.stringify({ type: 'recovery', email: 'alice@example.com' }) }),
        400,
        'validation_failed',
      );
      expectError(
        await call('POST', '/logout?scope=everyone', { headers: { authorization: `Bearer ${aliceToken}` } }),
        400,
        'validation_failed',
      );
    });
  });
});

describe('forged, expired and misplaced JWTs', () => {
  test('GET /user refuses a wrong secret, alg none, an altered payload, an expired token and garbage', async () => {
    const claims = decodeJwt(aliceToken);
    const [header, , signature] = aliceToken.split('.');
    const now = Math.floor(Date.now() / 1000);
    const forged = {
      'wrong secret': await new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .sign(new TextEncoder().encode('not-the-secret-but-32-characters-long')),
      'alg none': `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`,
      'alg none, signature kept': `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.${signature}`,
      'altered payload': `${header}.${b64url({ ...claims, role: 'service_role', sub: crypto.randomUUID() })}.${signature}`,
      'HS512 with the right secret': await new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'HS512' })
        .sign(new TextEncoder().encode(server.jwtSecret)),
      expired: await new SignJWT({ ...claims, exp: now - 60, iat: now - 3660 })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode(server.jwtSecret)),
      garbage: 'not.a.jwt',
      'two parts': `${header}.${b64url(claims)}`,
    };
    await leavesNothing(async () => {
      for (const [what, token] of Object.entries(forged)) {
        const answer = await call('GET', '/user', { headers: { authorization: `Bearer ${token}` } });
        expect(answer.status, what).toBe(403);
        expect(answer.body.code, what).toBe('bad_jwt');
        // Nor do they reach the admin API or change anything.
        expect(
          (await call('GET', '/admin/users', { headers: { authorization: `Bearer ${token}` } })).status,
          what,
        ).toBe(403);
        expect(
          (
            await call('PUT', '/user', {
              body: '{"data":{"pwned":true}}',
              headers: { authorization: `Bearer ${token}` },
            })
          ).status,
          what,
        ).toBe(403);
      }
      const expired = await call('GET', '/user', { headers: { authorization: `Bearer ${forged.expired}` } });
      expect(expired.body.message).toMatch(/expired/);
    });
    expect(
      (await server.sql.query(`select raw_user_meta_data from auth.users where id = $1`, [aliceId])).rows[0]
        ?.raw_user_meta_data,
    ).toEqual({ name: 'Alice' });
  });

  test('a correctly signed token without a live session, or with no bearer at all', async () => {
    const secret = new TextEncoder().encode(server.jwtSecret);
    const noSession = await new SignJWT({ role: 'authenticated', session_id: crypto.randomUUID() })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(aliceId)
      .setExpirationTime('1h')
      .sign(secret);
    expectError(
      await call('GET', '/user', { headers: { authorization: `Bearer ${noSession}` } }),
      403,
      'session_not_found',
    );
    const noSub = await new SignJWT({ role: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(secret);
    expectError(await call('GET', '/user', { headers: { authorization: `Bearer ${noSub}` } }), 403, 'bad_jwt');
    expectError(await call('GET', '/user'), 401, 'no_authorization');
    expectError(await call('GET', '/user', { headers: { authorization: 'Bearer' } }), 401, 'no_authorization');
    expectError(
      await call('GET', '/user', { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } }),
      401,
      'no_authorization',
    );
    // The anon key is a valid JWT, but not a user's.
    expectError(await call('GET', '/user', { headers: { authorization: `Bearer ${server.anonKey}` } }), 403, 'bad_jwt');
  });

  test("a missing or invalid apikey is the gateway's 401 {message, hint}", async () => {
    const missing = await call('POST', '/token?grant_type=password', {
      body: JSON.stringify({ email: 'alice@example.com', password: 'alice password' }),
      apikey: null,
    });
    expect(missing.status).toBe(401);
    expect(missing.body).toEqual({ message: 'No API key found in request', hint: expect.any(String) });
    for (const apikey of [
      'nonsense',
      aliceToken,
      await new SignJWT({ role: 'anon' })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode('x'.repeat(40))),
    ]) {
      const invalid = await call('GET', '/settings', { apikey });
      expect(invalid.status).toBe(401);
      expect(invalid.body).toEqual({ message: 'Invalid API key', hint: expect.any(String) });
    }
  });
});

describe('used tokens, wrong codes and replayed links', () => {
  test('a used refresh token is refresh_token_already_used and ends its session', async () => {
    const bob = client();
    await bob.auth.signUp({ email: 'bob@example.com', password: 'bob password' });
    const first = (await bob.auth.getSession()).data.session?.refresh_token ?? '';
    expect((await bob.auth.refreshSession()).error).toBeNull();
    const reused = await call('POST', '/token?grant_type=refresh_token', {
      body: JSON.stringify({ refresh_token: first }),
    });
    expectError(reused, 400, 'refresh_token_already_used');
    expect(
      (
        await server.sql.query(
          `select 1 from auth.sessions s join auth.users u on u.id = s.user_id where u.email = 'bob@example.com'`,
        )
      ).rowCount,
    ).toBe(0);
    expectError(
      await call('POST', '/token?grant_type=refresh_token', {
        body: JSON.stringify({ refresh_token: 'x'.repeat(600) }),
      }),
      400,
      'validation_failed',
    );
  });

  test('a wrong email code or token hash is otp_expired, and the right code still works after', async () => {
    await leavesNothing(async () => {
      for (const token of ['000000', '999999', 'abcdef', "' or 1=1 --", '1234567']) {
        const { error } = await client().auth.verifyOtp({ email: 'alice@example.com', token, type: 'email' });
        expect(error?.code, token).toBe('otp_expired');
        expect(error?.status, token).toBe(403);
      }
      for (const tokenHash of ['nope', 'x'.repeat(100), "'; delete from auth.one_time_tokens; --"]) {
        expect((await client().auth.verifyOtp({ token_hash: tokenHash, type: 'magiclink' })).error?.code).toBe(
          'otp_expired',
        );
      }
    });
  });

  test('a replayed link is refused, in the URL fragment', async () => {
    expect(otpLink).not.toBe('');
    const first = await fetch(otpLink, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toContain('#access_token=');
    await leavesNothing(async () => {
      const again = await fetch(otpLink, { redirect: 'manual' });
      expect(again.status).toBe(303);
      const fragment = new URLSearchParams((again.headers.get('location') ?? '').split('#')[1]);
      expect(fragment.get('error_code')).toBe('otp_expired');
      expect(fragment.get('access_token')).toBeNull();
      const noToken = await fetch(`${server.url}/auth/v1/verify?type=signup`, { redirect: 'manual' });
      expect(noToken.status).toBeLessThan(500);
    });
  });

  test('a wrong TOTP code is mfa_verification_failed; malformed ones are 4xx', async () => {
    const challenge = await alice.auth.mfa.challenge({ factorId });
    const right = await generate({ secret: totpSecret });
    await leavesNothing(async () => {
      for (const code of [right === '000000' ? '111111' : '000000', 'abcdef', '12 34 56']) {
        const { error } = await alice.auth.mfa.verify({ factorId, challengeId: challenge.data?.id ?? '', code });
        expect(error?.code, code).toBe('mfa_verification_failed');
      }
      const empty = await call('POST', `/factors/${factorId}/verify`, {
        body: JSON.stringify({ challenge_id: challenge.data?.id, code: '' }),
        headers: { authorization: `Bearer ${aliceToken}` },
      });
      expectError(empty, 400, 'validation_failed');
      const badChallenge = await call('POST', `/factors/${factorId}/verify`, {
        body: JSON.stringify({ challenge_id: 'nope', code: right }),
        headers: { authorization: `Bearer ${aliceToken}` },
      });
      expect(badChallenge.status).toBe(404);
      expectError(
        await call('POST', '/factors', {
          body: JSON.stringify({ factor_type: 'sms' }),
          headers: { authorization: `Bearer ${aliceToken}` },
        }),
        400,
        'validation_failed',
      );
      expectError(
        await call('POST', '/factors/not-a-uuid/challenge', { headers: { authorization: `Bearer ${aliceToken}` } }),
        404,
        'mfa_factor_not_found',
      );
    });
  });
});

describe('injection attempts', () => {
  test('SQL in the email is just an invalid address', async () => {
    await leavesNothing(async () => {
      for (const email of [
        "'; drop table auth.users; --@example.com",
        "alice@example.com' or '1'='1",
        'alice@example.com";--',
        "x@example.com'); delete from auth.users; --",
      ]) {
        const signIn = await client().auth.signInWithPassword({ email, password: 'alice password' });
        expect(signIn.error?.status, email).toBe(400);
        expect(signIn.error?.code, email).toBe('invalid_credentials');
        const signUp = await client().auth.signUp({ email, password: 'long enough' });
        expect(signUp.error?.status, email).toBe(400);
      }
    });
    expect(
      (await client().auth.signInWithPassword({ email: 'alice@example.com', password: 'alice password' })).error,
    ).toBeNull();
  });

  test('hostile metadata is stored as data, and cannot make the user an admin', async () => {
    const data = {
      name: "Robert'); drop table auth.users; --",
      $where: 'this.role == "admin"',
      role: 'service_role',
      nested: { deeper: { '<script>': '</script>' } },
    };
    const mallory = client();
    const { error } = await mallory.auth.signUp({
      email: 'mallory@example.com',
      password: 'mallory password',
      options: { data },
    });
    expect(error).toBeNull();
    const stored = await server.sql.query(
      `select raw_user_meta_data, raw_app_meta_data, role from auth.users where email = 'mallory@example.com'`,
    );
    expect(stored.rows[0]).toEqual({
      raw_user_meta_data: data,
      raw_app_meta_data: { provider: 'email', providers: ['email'] },
      role: 'authenticated',
    });
    const claims = decodeJwt((await mallory.auth.getSession()).data.session?.access_token ?? '');
    expect(claims.role).toBe('authenticated');

    const token = (await mallory.auth.getSession()).data.session?.access_token ?? '';
    const escalate = await call('PUT', '/user', {
      body: JSON.stringify({ app_metadata: { role: 'admin' }, role: 'service_role', data: { plan: 'free' } }),
      headers: { authorization: `Bearer ${token}` },
    });
    expect(escalate.status).toBe(200);
    const after = await server.sql.query(
      `select raw_app_meta_data, role from auth.users where email = 'mallory@example.com'`,
    );
    expect(after.rows[0]).toEqual({
      raw_app_meta_data: { provider: 'email', providers: ['email'] },
      role: 'authenticated',
    });
    // A __proto__ key is data, not a prototype.
    const proto = await call('PUT', '/user', {
      body: '{"data":{"__proto__":{"polluted":true}}}',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(proto.status).toBeLessThan(500);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('metadata PostgreSQL cannot store, or nested too deep, is a 400, not a 500', async () => {
    const token = (await alice.auth.getSession()).data.session?.access_token ?? '';
    await leavesNothing(async () => {
      const nul = await call('PUT', '/user', {
        body: '{"data":{"name":"a\\u0000b"}}',
        headers: { authorization: `Bearer ${token}` },
      });
      expectError(nul, 400, 'validation_failed');
      const nulKey = await call('POST', '/signup', {
        body: '{"email":"nul@example.com","password":"long enough","data":{"a\\u0000":1}}',
      });
      expectError(nulKey, 400, 'validation_failed');
      const deep = `{"email":"deep@example.com","password":"long enough","data":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}`;
      const answer = await call('POST', '/signup', { body: deep });
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
    });
  });

  test('redirect_to cannot inject headers or leave the allowed sites', async () => {
    const hostile = [
      `${server.url}/ok\r\nSet-Cookie: pwned=1`,
      `${server.url}/ok%0d%0aSet-Cookie:%20pwned=1`,
      'javascript:alert(1)',
      'https://evil.example.com/',
      `${server.url}@evil.example.com/`,
      '//evil.example.com',
    ];
    for (const redirect of hostile) {
      const response = await fetch(
        `${server.url}/auth/v1/verify?type=signup&token=nope&redirect_to=${encodeURIComponent(redirect)}`,
        { redirect: 'manual' },
      );
      expect(response.status, redirect).toBe(303);
      const location = response.headers.get('location') ?? '';
      expect(response.headers.get('set-cookie'), redirect).toBeNull();
      expect(
        location.startsWith(`${server.url}/`) || location.startsWith(`${server.url}#`),
        `${redirect} -> ${location}`,
      ).toBe(true);
      expect(new URL(location).host).toBe(new URL(server.url).host);
    }
  });
});

describe('after the barrage', () => {
  test('the server is healthy and a normal sign-in works', async () => {
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const { data, error } = await client().auth.signInWithPassword({
      email: 'alice@example.com',
      password: 'alice password',
    });
    expect(error).toBeNull();
    expect(data.user?.email).toBe('alice@example.com');
    const users = await server.sql.query<{ email: string }>('select email from auth.users order by email');
    expect(users.rows.map((r) => r.email)).toEqual(['alice@example.com', 'bob@example.com', 'mallory@example.com']);
  });
});
