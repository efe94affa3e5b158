/**
 * Phone sign-in through supabase-js with SMS confirmation on and a local server speaking Twilio's
 * Messages API: sign-up and its code, sign-in codes (SMS and WhatsApp), password sign-in, resend,
 * phone change, wrong and expired codes, and a provider that fails, garbles or never answers.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';
import { startSmsProviderServer, type SmsProviderServer } from '../../helpers/sms-providers.js';

let server: TestServer;
let twilio: SmsProviderServer;
const client = () => supabaseClient(server);
let counter = 0;
/** A fresh E.164 number for each test: digits, no "+". */
const newNumber = () => `1555${String(Date.now() % 1_000_000).padStart(6, '0')}${counter++ % 10}`;

beforeAll(async () => {
  twilio = await startSmsProviderServer();
  server = await startTestServer({
    env: {
      AUTH_SMS_ENABLE_SIGNUP: 'true',
      AUTH_SMS_CONFIRMATION: 'true',
      AUTH_SMS_PROVIDER: 'twilio',
      AUTH_SMS_API_URL: twilio.url,
      AUTH_SMS_TWILIO_ACCOUNT_SID: 'AC0123',
      AUTH_SMS_TWILIO_AUTH_TOKEN: 'twilio-secret',
      AUTH_SMS_TWILIO_MESSAGE_SERVICE_SID: 'MG0456',
      AUTH_SMS_MAX_FREQUENCY: '0',
      AUTH_SMS_TIMEOUT_MS: '500',
      AUTH_SMS_TEMPLATE: 'Trellis code: {{ .Code }}',
      AUTH_RATE_LIMIT_SMS_SENT: '1000',
    },
  });
});
afterAll(async () => {
  await server?.stop();
  await twilio?.close();
});

/** Runs `action` and returns the code it texted to `phone`. */
async function codeFrom(phone: string, action: () => Promise<{ error: unknown }>): Promise<string> {
  const since = twilio.requests.length;
  const { error } = await action();
  expect(error).toBeNull();
  return twilio.codeFor(phone, since);
}

describe('phone sign-up with confirmation', () => {
  test('signUp texts a code through the Messages API, and verifyOtp signs in', async () => {
    const phone = newNumber();
    const since = twilio.requests.length;
    const { data, error } = await client().auth.signUp({ phone: `+${phone}`, password: 'phone password 1' });
    expect(error).toBeNull();
    expect(data.session).toBeNull();
    expect(data.user?.phone).toBe(phone);
    expect(data.user?.phone_confirmed_at).toBeUndefined();
    const sent = twilio.requests.slice(since);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.path).toBe('/2010-04-01/Accounts/AC0123/Messages.json');
    expect(sent[0]?.authorization).toBe(`Basic ${Buffer.from('AC0123:twilio-secret').toString('base64')}`);
    expect(sent[0]?.contentType).toBe('application/x-www-form-urlencoded');
    expect(sent[0]?.form).toEqual({
      To: `+${phone}`,
      Channel: 'sms',
      From: 'MG0456',
      Body: expect.stringMatching(/^Trellis code: \d{6}$/),
    });
    const code = await twilio.codeFor(phone, since);

    // Not confirmed yet: the password is refused, as GoTrue does.
    const early = await client().auth.signInWithPassword({ phone, password: 'phone password 1' });
    expect(early.error?.code).toBe('phone_not_confirmed');

    const verified = await client().auth.verifyOtp({ phone, token: code, type: 'sms' });
    expect(verified.error).toBeNull();
    expect(verified.data.user?.phone_confirmed_at).toEqual(expect.any(String));
    expect(verified.data.user?.app_metadata.provider).toBe('phone');
    expect(verified.data.user?.identities?.[0]?.provider).toBe('phone');

    const again = await client().auth.verifyOtp({ phone, token: code, type: 'sms' });
    expect(again.error?.code).toBe('otp_expired');
    expect(again.error?.status).toBe(403);

    const signedIn = await client().auth.signInWithPassword({ phone, password: 'phone password 1' });
    expect(signedIn.error).toBeNull();
    expect(signedIn.data.session?.user.phone).toBe(phone);
  });

  test('signing up a confirmed number again reveals nothing and texts nothing', async () => {
    const phone = newNumber();
    const code = await codeFrom(phone, () => client().auth.signUp({ phone, password: 'phone password 1' }));
    await client().auth.verifyOtp({ phone, token: code, type: 'sms' });
    const since = twilio.requests.length;
    const { data, error } = await client().auth.signUp({ phone, password: 'another password' });
    expect(error).toBeNull();
    expect(data.user?.identities).toEqual([]);
    expect(twilio.requests.length).toBe(since);
  });
});

describe('sign-in with a texted code', () => {
  test('a new number signs up by code; a known one gets a sign-in code with its message id', async () => {
    const phone = newNumber();
    const first = await codeFrom(phone, () => client().auth.signInWithOtp({ phone }));
    const verified = await client().auth.verifyOtp({ phone, token: first, type: 'sms' });
    expect(verified.error).toBeNull();
    expect(verified.data.session?.user.phone).toBe(phone);

    const since = twilio.requests.length;
    const { data, error } = await client().auth.signInWithOtp({ phone });
    expect(error).toBeNull();
    expect(data.messageId).toMatch(/^SM/);
    const second = await twilio.codeFor(phone, since);
    const session = await client().auth.verifyOtp({ phone, token: second, type: 'sms' });
    expect(session.error).toBeNull();
    expect(session.data.session?.access_token).toEqual(expect.any(String));
  });

  test('WhatsApp goes to whatsapp:+number', async () => {
    const phone = newNumber();
    const since = twilio.requests.length;
    const { error } = await client().auth.signInWithOtp({ phone, options: { channel: 'whatsapp' } });
    expect(error).toBeNull();
    expect(twilio.requests.slice(since)[0]?.form).toMatchObject({
      To: `whatsapp:+${phone}`,
      Channel: 'whatsapp',
      From: 'MG0456',
    });
  });

  test('shouldCreateUser false refuses an unknown number', async () => {
    const { error } = await client().auth.signInWithOtp({ phone: newNumber(), options: { shouldCreateUser: false } });
    expect(error?.code).toBe('otp_disabled');
  });

  test('resend texts a new code; the old one no longer works', async () => {
    const phone = newNumber();
    const old = await codeFrom(phone, () => client().auth.signUp({ phone, password: 'phone password 1' }));
    const fresh = await codeFrom(phone, () => client().auth.resend({ type: 'sms', phone }));
    if (old !== fresh) {
      const stale = await client().auth.verifyOtp({ phone, token: old, type: 'sms' });
      expect(stale.error?.code).toBe('otp_expired');
    }
    const ok = await client().auth.verifyOtp({ phone, token: fresh, type: 'sms' });
    expect(ok.error).toBeNull();
  });

  test('wrong codes count: the fifth ends the code, and the right one is refused after', async () => {
    const phone = newNumber();
    const code = await codeFrom(phone, () => client().auth.signInWithOtp({ phone }));
    const wrong = code === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) {
      const { error } = await client().auth.verifyOtp({ phone, token: wrong, type: 'sms' });
      expect(error?.message).toBe('Token has expired or is invalid');
    }
    const late = await client().auth.verifyOtp({ phone, token: code, type: 'sms' });
    expect(late.error?.code).toBe('otp_expired');
  });

  test('an expired code is refused', async () => {
    const phone = newNumber();
    const code = await codeFrom(phone, () => client().auth.signInWithOtp({ phone }));
    await server.sql.query(
      `update auth.one_time_tokens set expires_at = now() - interval '1 second' where relates_to = $1`,
      [phone],
    );
    const { error } = await client().auth.verifyOtp({ phone, token: code, type: 'sms' });
    expect(error?.code).toBe('otp_expired');
  });
});

describe('phone change', () => {
  test('updateUser({ phone }) texts the new number; verifyOtp phone_change moves the user to it', async () => {
    const email = `change-${Date.now()}@example.com`;
    const alice = client();
    const signedUp = await alice.auth.signUp({ email, password: 'email password 1' });
    expect(signedUp.error).toBeNull();
    const phone = newNumber();
    const since = twilio.requests.length;
    const updated = await alice.auth.updateUser({ phone });
    expect(updated.error).toBeNull();
    expect(updated.data.user?.phone).toBe('');
    expect(updated.data.user?.new_phone).toBe(phone);
    const code = await twilio.codeFor(phone, since);
    const verified = await alice.auth.verifyOtp({ phone, token: code, type: 'phone_change' });
    expect(verified.error).toBeNull();
    expect(verified.data.user?.phone).toBe(phone);
    expect(verified.data.user?.email).toBe(email);
    expect(verified.data.user?.app_metadata.providers).toEqual(['email', 'phone']);
  });

  test('resend phone_change, found by the current number, texts the new one', async () => {
    const current = newNumber();
    const carol = client();
    const code = await codeFrom(current, () => carol.auth.signInWithOtp({ phone: current }));
    expect((await carol.auth.verifyOtp({ phone: current, token: code, type: 'sms' })).error).toBeNull();
    const next = newNumber();
    await codeFrom(next, () => carol.auth.updateUser({ phone: next }));
    const resent = await codeFrom(next, () => carol.auth.resend({ type: 'phone_change', phone: current }));
    const moved = await carol.auth.verifyOtp({ phone: next, token: resent, type: 'phone_change' });
    expect(moved.error).toBeNull();
    expect(moved.data.user?.phone).toBe(next);
    // The old number is free again, and the moved user signs in with the new one.
    const none = await server.sql.query('select 1 from auth.users where phone = $1', [current]);
    expect(none.rowCount).toBe(0);
  });

  test('a number another user has is refused with phone_exists', async () => {
    const phone = newNumber();
    const code = await codeFrom(phone, () => client().auth.signInWithOtp({ phone }));
    await client().auth.verifyOtp({ phone, token: code, type: 'sms' });
    const bob = client();
    await bob.auth.signUp({ email: `bob-${Date.now()}@example.com`, password: 'email password 1' });
    const { error } = await bob.auth.updateUser({ phone });
    expect(error?.code).toBe('phone_exists');
    expect(error?.status).toBe(422);
  });
});

describe('a pending account someone else started', () => {
  test('a sign-in code proves the number, not the password or metadata a sign-up chose', async () => {
    const phone = newNumber();
    await codeFrom(phone, () =>
      client().auth.signUp({ phone, password: 'attacker password', options: { data: { planted: true } } }),
    );
    const code = await codeFrom(phone, () => client().auth.signInWithOtp({ phone }));
    const verified = await client().auth.verifyOtp({ phone, token: code, type: 'sms' });
    expect(verified.error).toBeNull();
    expect(verified.data.user?.phone_confirmed_at).toEqual(expect.any(String));
    expect(verified.data.user?.user_metadata).toEqual({});
    const attacker = await client().auth.signInWithPassword({ phone, password: 'attacker password' });
    expect(attacker.error?.code).toBe('invalid_credentials');
    const row = await server.sql.query('select encrypted_password from auth.users where phone = $1', [phone]);
    expect(row.rows[0]?.encrypted_password).toBeNull();
  });

  test('a second sign-up with another password: whoever confirms inherits neither', async () => {
    const phone = newNumber();
    await codeFrom(phone, () => client().auth.signUp({ phone, password: 'attacker password' }));
    const code = await codeFrom(phone, () => client().auth.signUp({ phone, password: 'owner password' }));
    expect((await client().auth.verifyOtp({ phone, token: code, type: 'sms' })).error).toBeNull();
    for (const password of ['attacker password', 'owner password']) {
      const { error } = await client().auth.signInWithPassword({ phone, password });
      expect(error?.code).toBe('invalid_credentials');
    }
  });

  test('signing up twice with the same password keeps it', async () => {
    const phone = newNumber();
    await codeFrom(phone, () => client().auth.signUp({ phone, password: 'phone password 1' }));
    const code = await codeFrom(phone, () => client().auth.signUp({ phone, password: 'phone password 1' }));
    expect((await client().auth.verifyOtp({ phone, token: code, type: 'sms' })).error).toBeNull();
    const { error } = await client().auth.signInWithPassword({ phone, password: 'phone password 1' });
    expect(error).toBeNull();
  });

  test('a resend after the sign-in code keeps the mark: the password still goes', async () => {
    const phone = newNumber();
    await codeFrom(phone, () => client().auth.signUp({ phone, password: 'attacker password' }));
    await codeFrom(phone, () => client().auth.signInWithOtp({ phone }));
    const code = await codeFrom(phone, () => client().auth.resend({ type: 'sms', phone }));
    expect((await client().auth.verifyOtp({ phone, token: code, type: 'sms' })).error).toBeNull();
    const { error } = await client().auth.signInWithPassword({ phone, password: 'attacker password' });
    expect(error?.code).toBe('invalid_credentials');
  });
});

describe('a failed text and a resend at the same time', () => {
  test('the failed one removes only its own code: the resent code still works', async () => {
    const phone = newNumber();
    await codeFrom(phone, () => client().auth.signUp({ phone, password: 'phone password 1' }));
    let held = false;
    // The first resend hangs until the provider times out; the second goes through meanwhile
    // (an undefined answer is the helper's documented success).
    twilio.answerWith((req) => {
      if (held || req.form.To !== `+${phone}`) return undefined as never;
      held = true;
      return 'hang';
    });
    try {
      const since = twilio.requests.length;
      const failing = client().auth.resend({ type: 'sms', phone });
      while (!held) await new Promise((r) => setTimeout(r, 10));
      const fresh = await codeFrom(phone, () => client().auth.resend({ type: 'sms', phone }));
      expect(twilio.requests.length - since).toBe(2);
      const failed = await failing;
      expect(failed.error?.code).toBe('sms_send_failed');
      const ok = await client().auth.verifyOtp({ phone, token: fresh, type: 'sms' });
      expect(ok.error).toBeNull();
    } finally {
      twilio.answerWith(undefined);
    }
  });
});

describe('a provider that fails', () => {
  const refusals: [string, Parameters<SmsProviderServer['answerWith']>[0], RegExp][] = [
    [
      'a 5xx with Twilio’s error body',
      () => ({ status: 500, json: { code: 20500, message: 'Internal error', more_info: 'https://x', status: 500 } }),
      /^Error sending confirmation OTP to provider: Internal error More information: https:\/\/x$/,
    ],
    ['a 400 with no JSON', () => ({ status: 400, text: '<html>bad</html>' }), /without an error body/],
    ['garbage with a 201', () => ({ status: 201, text: 'not json' }), /no message sid/],
    [
      'a message Twilio marks failed',
      () => ({
        status: 201,
        json: { sid: 'SMx', status: 'failed', error_code: '30003', error_message: 'Unreachable' },
      }),
      /twilio error: Unreachable 30003 for message SMx/,
    ],
    ['no answer (timeout)', () => 'hang', /no answer within 500 ms/],
  ];
  test.each(refusals)('%s: 422 sms_send_failed and no user is left behind', async (_name, answer, message) => {
    const phone = newNumber();
    twilio.answerWith(answer);
    try {
      const { data, error } = await client().auth.signUp({ phone, password: 'phone password 1' });
      expect(error?.status).toBe(422);
      expect(error?.code).toBe('sms_send_failed');
      expect(error?.message).toMatch(message);
      expect(data.user).toBeNull();
    } finally {
      twilio.answerWith(undefined);
    }
    const left = await server.sql.query('select 1 from auth.users where phone = $1', [phone]);
    expect(left.rowCount).toBe(0);
    // Nothing half-made: signing up again works.
    const code = await codeFrom(phone, () => client().auth.signUp({ phone, password: 'phone password 1' }));
    expect((await client().auth.verifyOtp({ phone, token: code, type: 'sms' })).error).toBeNull();
  });
});

describe('settings', () => {
  test('GET /settings reports the phone provider', async () => {
    const response = await fetch(`${server.url}/auth/v1/settings`, { headers: { apikey: server.anonKey } });
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ external: { phone: true }, phone_autoconfirm: false, sms_provider: 'twilio' });
  });
});
