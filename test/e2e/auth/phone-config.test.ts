/**
 * Phone sign-in under other settings, through supabase-js: autoconfirm (GoTrue's SMS autoconfirm),
 * test numbers, the SMS budgets, one send through each of the other providers (Twilio Verify,
 * MessageBird, Vonage, Textlocal), phone sign-in turned off, and bad input.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';
import { startSmsProviderServer, type SmsProviderServer } from '../../helpers/sms-providers.js';

let api: SmsProviderServer;
const servers: TestServer[] = [];
let counter = 0;
const newNumber = () => `1444${String(Date.now() % 1_000_000).padStart(6, '0')}${counter++ % 10}`;
const TEST_NUMBER = '15550009999';

const PROVIDERS: Record<string, Record<string, string>> = {
  twilio_verify: {
    AUTH_SMS_TWILIO_VERIFY_ACCOUNT_SID: 'AC9',
    AUTH_SMS_TWILIO_VERIFY_AUTH_TOKEN: 'verify-secret',
    AUTH_SMS_TWILIO_VERIFY_MESSAGE_SERVICE_SID: 'VA9',
  },
  messagebird: { AUTH_SMS_MESSAGEBIRD_ACCESS_KEY: 'mb-key', AUTH_SMS_MESSAGEBIRD_ORIGINATOR: 'Trellis' },
  vonage: { AUTH_SMS_VONAGE_API_KEY: 'v-key', AUTH_SMS_VONAGE_API_SECRET: 'v-secret', AUTH_SMS_VONAGE_FROM: 'Trellis' },
  textlocal: { AUTH_SMS_TEXTLOCAL_API_KEY: 'tl-key', AUTH_SMS_TEXTLOCAL_SENDER: 'TRLS' },
};

async function start(env: Record<string, string>): Promise<TestServer> {
  const server = await startTestServer({ env: { AUTH_SMS_API_URL: api.url, ...env } });
  servers.push(server);
  return server;
}

beforeAll(async () => {
  api = await startSmsProviderServer();
});
afterAll(async () => {
  for (const server of servers) await server.stop();
  await api?.close();
});

describe('autoconfirm (confirmation off), Vonage, test numbers and budgets', () => {
  let server: TestServer;
  const client = () => supabaseClient(server);
  beforeAll(async () => {
    server = await start({
      AUTH_SMS_ENABLE_SIGNUP: 'true',
      AUTH_SMS_PROVIDER: 'vonage',
      ...PROVIDERS.vonage,
      AUTH_SMS_TEST_OTP: `+${TEST_NUMBER}=424242, 15550008888=000111`,
      AUTH_SMS_MAX_FREQUENCY: '60',
      AUTH_RATE_LIMIT_SMS_SENT: '3',
    });
  });

  test('signUp with a phone gives a session at once; signInWithPassword works', async () => {
    const phone = newNumber();
    const since = api.requests.length;
    const { data, error } = await client().auth.signUp({ phone, password: 'phone password 1' });
    expect(error).toBeNull();
    expect(data.session?.user.phone).toBe(phone);
    expect(data.user?.phone_confirmed_at).toEqual(expect.any(String));
    expect(api.requests.length).toBe(since);
    const again = await client().auth.signUp({ phone, password: 'phone password 1' });
    expect(again.error?.code).toBe('user_already_exists');
    const signedIn = await client().auth.signInWithPassword({ phone: `+${phone}`, password: 'phone password 1' });
    expect(signedIn.error).toBeNull();
    expect(signedIn.data.user?.app_metadata.provider).toBe('phone');
    const wrong = await client().auth.signInWithPassword({ phone, password: 'not the password' });
    expect(wrong.error?.code).toBe('invalid_credentials');
  });

  test('updateUser({ phone }) changes the number at once', async () => {
    const alice = client();
    await alice.auth.signUp({ phone: newNumber(), password: 'phone password 1' });
    const next = newNumber();
    const { data, error } = await alice.auth.updateUser({ phone: next });
    expect(error).toBeNull();
    expect(data.user?.phone).toBe(next);
  });

  test('a test number gets no text, and its fixed code signs in', async () => {
    const since = api.requests.length;
    const { data, error } = await client().auth.signInWithOtp({ phone: TEST_NUMBER });
    expect(error).toBeNull();
    expect(data.messageId).toBe('test-otp');
    expect(api.requests.length).toBe(since);
    const wrong = await client().auth.verifyOtp({ phone: TEST_NUMBER, token: '111111', type: 'sms' });
    expect(wrong.error?.code).toBe('otp_expired');
    const ok = await client().auth.verifyOtp({ phone: TEST_NUMBER, token: '424242', type: 'sms' });
    expect(ok.error).toBeNull();
    expect(ok.data.user?.phone).toBe(TEST_NUMBER);
  });

  test('a known number gets a code through Vonage; a second one within max_frequency is refused', async () => {
    const phone = newNumber();
    await client().auth.signUp({ phone, password: 'phone password 1' });
    const since = api.requests.length;
    const { error } = await client().auth.signInWithOtp({ phone });
    expect(error).toBeNull();
    expect(api.requests.slice(since)[0]).toMatchObject({
      path: '/sms/json',
      form: { from: 'Trellis', to: phone, api_key: 'v-key', api_secret: 'v-secret' },
    });
    const code = await api.codeFor(phone, since);
    const soon = await client().auth.signInWithOtp({ phone });
    expect(soon.error?.status).toBe(429);
    expect(soon.error?.code).toBe('over_sms_send_rate_limit');
    expect(soon.error?.message).toMatch(/^For security purposes, you can only request this after (59|60) seconds\.$/);
    expect((await client().auth.verifyOtp({ phone, token: code, type: 'sms' })).error).toBeNull();
  });

  test('the hourly budget of the server: AUTH_RATE_LIMIT_SMS_SENT', async () => {
    const answers: (string | undefined)[] = [];
    for (let i = 0; i < 4; i++) {
      const { error } = await client().auth.signInWithOtp({ phone: newNumber() });
      answers.push(error?.code);
    }
    // One text went out in the test before; 3 per hour in all.
    expect(answers.filter((a) => a === 'over_sms_send_rate_limit').length).toBeGreaterThanOrEqual(2);
    // Test numbers do not count against it.
    expect((await client().auth.signInWithOtp({ phone: '15550008888' })).error).toBeNull();
  });

  test('the admin API creates and updates phone users', async () => {
    const admin = supabaseClient(server, server.serviceRoleKey).auth.admin;
    const phone = newNumber();
    const created = await admin.createUser({ phone: `+${phone}`, password: 'phone password 1', phone_confirm: true });
    expect(created.error).toBeNull();
    expect(created.data.user).toMatchObject({
      phone,
      email: '',
      app_metadata: { provider: 'phone', providers: ['phone'] },
    });
    expect(created.data.user?.phone_confirmed_at).toEqual(expect.any(String));
    const signedIn = await client().auth.signInWithPassword({ phone, password: 'phone password 1' });
    expect(signedIn.error).toBeNull();
    const twice = await admin.createUser({ phone, password: 'phone password 1' });
    expect(twice.error?.code).toBe('phone_exists');

    const both = await admin.createUser({
      email: `both-${Date.now()}@example.com`,
      phone: newNumber(),
      email_confirm: true,
    });
    expect(both.error).toBeNull();
    expect(both.data.user?.app_metadata).toMatchObject({ provider: 'email', providers: ['email', 'phone'] });
    expect(both.data.user?.phone_confirmed_at).toBeUndefined();

    const next = newNumber();
    const updated = await admin.updateUserById(both.data.user?.id ?? '', { phone: next, phone_confirm: true });
    expect(updated.error).toBeNull();
    expect(updated.data.user?.phone).toBe(next);
    expect(updated.data.user?.phone_confirmed_at).toEqual(expect.any(String));
    const clash = await admin.updateUserById(both.data.user?.id ?? '', { phone });
    expect(clash.error?.code).toBe('phone_exists');
    const bad = await admin.createUser({ phone: '+1555\u0000', password: 'phone password 1' });
    expect(bad.error?.message).toBe('Invalid phone number format (E.164 required)');
  });

  test('WhatsApp through a provider without it: 400 validation_failed', async () => {
    const { error } = await client().auth.signInWithOtp({ phone: newNumber(), options: { channel: 'whatsapp' } });
    expect(error?.status).toBe(400);
    expect(error?.message).toMatch(/^Invalid channel/);
  });

  test('GET /settings: phone on, autoconfirm, vonage', async () => {
    const response = await fetch(`${server.url}/auth/v1/settings`, { headers: { apikey: server.anonKey } });
    expect(await response.json()).toMatchObject({
      external: { phone: true },
      phone_autoconfirm: true,
      sms_provider: 'vonage',
    });
  });

  const post = (path: string, body: unknown) =>
    fetch(`${server.url}/auth/v1/${path}`, {
      method: 'POST',
      headers: { apikey: server.anonKey, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  test.each<[string, string, unknown, number, string]>([
    ['letters', 'otp', { phone: 'abc' }, 400, 'Invalid phone number format (E.164 required)'],
    ['a leading 0', 'otp', { phone: '+0123456789' }, 400, 'Invalid phone number format (E.164 required)'],
    ['16 digits', 'otp', { phone: '1234567890123456' }, 400, 'Invalid phone number format (E.164 required)'],
    ['a NUL character', 'otp', { phone: '1555\u0000123' }, 400, 'Invalid phone number format (E.164 required)'],
    ['a huge value', 'otp', { phone: '1'.repeat(100_000) }, 400, 'validation_failed'],
    ['a number that is a number', 'otp', { phone: 15551234567 }, 400, 'validation_failed'],
    ['an unknown channel', 'otp', { phone: '15551234567', channel: 'pigeon' }, 400, 'Invalid channel'],
    ['email and phone', 'otp', { phone: '15551234567', email: 'a@example.com' }, 400, 'Only an email'],
    ['malformed JSON', 'otp', '{"phone": ', 400, 'bad_json'],
    ['signup: bad number', 'signup', { phone: '1', password: 'phone password 1' }, 400, 'E.164'],
    [
      'signup: PKCE',
      'signup',
      {
        phone: '15551234567',
        password: 'phone password 1',
        code_challenge: 'x'.repeat(43),
        code_challenge_method: 's256',
      },
      400,
      'PKCE not supported for phone signups',
    ],
    [
      'verify: bad number',
      'verify',
      { phone: '1555-invalid', token: '123456', type: 'sms' },
      400,
      'Invalid phone number format (E.164 required)',
    ],
    [
      'verify: unknown number',
      'verify',
      { phone: '15557654321', token: '123456', type: 'sms' },
      403,
      'Token has expired or is invalid',
    ],
    [
      'verify: no token',
      'verify',
      { phone: '15557654321', type: 'phone_change' },
      400,
      'Verify requires either a token or a token hash',
    ],
    ['verify: a token hash', 'verify', { token_hash: 'abc', type: 'sms' }, 403, 'otp_expired'],
    [
      'verify: token of the wrong type',
      'verify',
      { phone: '15557654321', token: 123456, type: 'sms' },
      400,
      'validation_failed',
    ],
    ['resend: sms without a phone', 'resend', { type: 'sms' }, 400, 'Type provided requires a phone number'],
    ['resend: unknown number', 'resend', { type: 'sms', phone: '15557654321' }, 200, '{}'],
  ])('bad input, %s', async (_name, path, body, status, fragment) => {
    const response = await post(path, body);
    expect(response.status).toBe(status);
    expect(await response.text()).toContain(fragment);
  });
});

describe.each(['twilio_verify', 'messagebird', 'textlocal'])('one send through %s', (provider) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await start({
      AUTH_SMS_ENABLE_SIGNUP: 'true',
      AUTH_SMS_CONFIRMATION: 'true',
      AUTH_SMS_PROVIDER: provider,
      AUTH_SMS_MAX_FREQUENCY: '0',
      ...PROVIDERS[provider],
    });
  });

  test('signUp texts a code, verifyOtp confirms the number', async () => {
    const phone = newNumber();
    const since = api.requests.length;
    const { error } = await supabaseClient(server).auth.signUp({ phone, password: 'phone password 1' });
    expect(error).toBeNull();
    const sent = api.requests.slice(since)[0];
    expect(sent?.path).toBe(
      { twilio_verify: '/v2/Services/VA9/Verifications', messagebird: '/messages', textlocal: '/send' }[provider],
    );
    const code = await api.codeFor(phone, since);
    const verified = await supabaseClient(server).auth.verifyOtp({ phone, token: code, type: 'sms' });
    expect(verified.error).toBeNull();
    expect(verified.data.user?.phone_confirmed_at).toEqual(expect.any(String));
  });
});

describe('phone sign-in turned off (the default)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await start({});
  });
  test.each<
    [
      string,
      (s: TestServer) => Promise<{ error: { status?: number; code?: string; message: string } | null }>,
      number,
      string,
    ]
  >([
    [
      'signUp',
      (s) => supabaseClient(s).auth.signUp({ phone: '15551234567', password: 'phone password 1' }),
      400,
      'Phone signups are disabled',
    ],
    [
      'signInWithOtp',
      (s) => supabaseClient(s).auth.signInWithOtp({ phone: '15551234567' }),
      400,
      'Unsupported phone provider',
    ],
    [
      'signInWithPassword',
      (s) => supabaseClient(s).auth.signInWithPassword({ phone: '15551234567', password: 'x' }),
      422,
      'Phone logins are disabled',
    ],
    [
      'resend',
      (s) => supabaseClient(s).auth.resend({ type: 'sms', phone: '15551234567' }),
      400,
      'Phone logins are disabled',
    ],
  ])('%s answers GoTrue’s phone_provider_disabled', async (_name, call, status, message) => {
    const { error } = await call(server);
    expect(error?.status).toBe(status);
    expect(error?.code).toBe('phone_provider_disabled');
    expect(error?.message).toBe(message);
  });
});

describe('no provider, and test numbers that have expired', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await start({
      AUTH_SMS_ENABLE_SIGNUP: 'true',
      AUTH_SMS_TEST_OTP: `${TEST_NUMBER}=424242`,
      AUTH_SMS_TEST_OTP_VALID_UNTIL: '2020-01-01T00:00:00Z',
    });
  });
  test('a code for an ordinary number answers 500 "Unable to get SMS provider", as on GoTrue', async () => {
    // auth-js reports a 5xx as a retryable fetch error without the body; the body is GoTrue's.
    const { error } = await supabaseClient(server).auth.signInWithOtp({ phone: TEST_NUMBER });
    expect(error?.status).toBe(500);
    const response = await fetch(`${server.url}/auth/v1/otp`, {
      method: 'POST',
      headers: { apikey: server.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify({ phone: TEST_NUMBER }),
    });
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({
      error_code: 'unexpected_failure',
      msg: 'Unable to get SMS provider',
    });
    const { error: verify } = await supabaseClient(server).auth.verifyOtp({
      phone: TEST_NUMBER,
      token: '424242',
      type: 'sms',
    });
    expect(verify?.code).toBe('otp_expired');
  });
});
