/**
 * Phone second factors through supabase-js, with a local Twilio server: enroll a number, a
 * challenge texts a code, verify makes the session aal2; the interval between challenges, a
 * provider that fails, bad input, and the feature turned off.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';
import { startSmsProviderServer, type SmsProviderServer } from '../../helpers/sms-providers.js';

let server: TestServer;
let off: TestServer;
/** Two factors per user, one text per hour, anonymous sign-ins on. */
let tight: TestServer;
let twilio: SmsProviderServer;
let counter = 0;
const newNumber = () => `1333${String(Date.now() % 1_000_000).padStart(6, '0')}${counter++ % 10}`;

beforeAll(async () => {
  twilio = await startSmsProviderServer();
  server = await startTestServer({
    env: {
      AUTH_SMS_PROVIDER: 'twilio',
      AUTH_SMS_API_URL: twilio.url,
      AUTH_SMS_TWILIO_ACCOUNT_SID: 'AC7',
      AUTH_SMS_TWILIO_AUTH_TOKEN: 'secret7',
      AUTH_SMS_TWILIO_MESSAGE_SERVICE_SID: 'MG7',
      AUTH_MFA_PHONE_ENROLL_ENABLED: 'true',
      AUTH_MFA_PHONE_VERIFY_ENABLED: 'true',
      AUTH_MFA_PHONE_TEMPLATE: 'Second factor: {{ .Code }}',
      AUTH_MFA_PHONE_OTP_LENGTH: '8',
      AUTH_MFA_PHONE_MAX_FREQUENCY: '60',
      AUTH_SMS_TIMEOUT_MS: '1000',
    },
  });
  off = await startTestServer({});
  tight = await startTestServer({
    env: {
      AUTH_SMS_PROVIDER: 'twilio',
      AUTH_SMS_API_URL: twilio.url,
      AUTH_SMS_TWILIO_ACCOUNT_SID: 'AC8',
      AUTH_SMS_TWILIO_AUTH_TOKEN: 'secret8',
      AUTH_SMS_TWILIO_MESSAGE_SERVICE_SID: 'MG8',
      AUTH_MFA_PHONE_ENROLL_ENABLED: 'true',
      AUTH_MFA_PHONE_VERIFY_ENABLED: 'true',
      AUTH_MFA_MAX_ENROLLED_FACTORS: '2',
      AUTH_RATE_LIMIT_SMS_SENT: '1',
      AUTH_ANONYMOUS_SIGN_INS: 'true',
    },
  });
});
afterAll(async () => {
  await server?.stop();
  await off?.stop();
  await tight?.stop();
  await twilio?.close();
});

async function signedInUser(target = server) {
  const client = supabaseClient(target);
  const { error } = await client.auth.signUp({
    email: `mfa-${Date.now()}-${counter++}@example.com`,
    password: 'password 123',
  });
  expect(error).toBeNull();
  return client;
}

describe('phone factors', () => {
  test('enroll, challenge (a text), verify: the session becomes aal2 with amr mfa/phone', async () => {
    const alice = await signedInUser();
    const phone = newNumber();
    const enrolled = await alice.auth.mfa.enroll({ factorType: 'phone', phone: `+${phone}`, friendlyName: 'my phone' });
    expect(enrolled.error).toBeNull();
    expect(enrolled.data).toMatchObject({ type: 'phone', friendly_name: 'my phone', phone: `+${phone}` });
    const factorId = enrolled.data?.id ?? '';

    const since = twilio.requests.length;
    const challenge = await alice.auth.mfa.challenge({ factorId });
    expect(challenge.error).toBeNull();
    expect(challenge.data).toMatchObject({ type: 'phone', expires_at: expect.any(Number) });
    expect(twilio.requests.slice(since)[0]?.form).toMatchObject({
      To: `+${phone}`,
      From: 'MG7',
      Body: expect.stringMatching(/^Second factor: \d{8}$/),
    });
    const code = await twilio.codeFor(phone, since);

    const wrong = await alice.auth.mfa.verify({ factorId, challengeId: challenge.data?.id ?? '', code: '00000000' });
    expect(wrong.error?.code).toBe('mfa_verification_failed');
    expect(wrong.error?.message).toBe('Invalid MFA Phone code entered');

    const verified = await alice.auth.mfa.verify({ factorId, challengeId: challenge.data?.id ?? '', code });
    expect(verified.error).toBeNull();
    const claims = decodeJwt(verified.data?.access_token ?? '');
    expect(claims.aal).toBe('aal2');
    expect((claims.amr as { method: string }[]).map((a) => a.method)).toContain('mfa/phone');

    const factors = await alice.auth.mfa.listFactors();
    expect(factors.data?.phone.map((f) => f.id)).toEqual([factorId]);

    // The same number again, once verified: GoTrue's mfa_verified_factor_exists.
    const again = await alice.auth.mfa.enroll({ factorType: 'phone', phone });
    expect(again.error?.code).toBe('mfa_verified_factor_exists');
  });

  test('a second challenge within AUTH_MFA_PHONE_MAX_FREQUENCY is refused', async () => {
    const bob = await signedInUser();
    const { data } = await bob.auth.mfa.enroll({ factorType: 'phone', phone: newNumber() });
    expect((await bob.auth.mfa.challenge({ factorId: data?.id ?? '' })).error).toBeNull();
    const soon = await bob.auth.mfa.challenge({ factorId: data?.id ?? '' });
    expect(soon.error?.code).toBe('over_sms_send_rate_limit');
    expect(soon.error?.status).toBe(429);
  });

  test('a provider that fails: no challenge is made, and the next try is not held back', async () => {
    const carol = await signedInUser();
    const { data } = await carol.auth.mfa.enroll({ factorType: 'phone', phone: newNumber() });
    const factorId = data?.id ?? '';
    twilio.answerWith(() => ({ status: 503, json: { code: 20503, message: 'Unavailable', more_info: 'x' } }));
    try {
      const failed = await carol.auth.mfa.challenge({ factorId });
      expect(failed.error?.status).toBe(500);
    } finally {
      twilio.answerWith(undefined);
    }
    const made = await server.sql.query('select 1 from auth.mfa_challenges where factor_id = $1', [factorId]);
    expect(made.rowCount).toBe(0);
    expect((await carol.auth.mfa.challenge({ factorId })).error).toBeNull();
  });

  test.each([
    ['no number', {}, 'Phone number required to enroll Phone factor'],
    ['a malformed number', { phone: '+0-invalid' }, 'Invalid phone number format (E.164 required)'],
    ['a NUL character', { phone: '+1555\u00001234' }, 'Invalid phone number format (E.164 required)'],
  ])('enroll with %s: 400', async (_name, extra, message) => {
    const dave = await signedInUser();
    const session = (await dave.auth.getSession()).data.session;
    const response = await fetch(`${server.url}/auth/v1/factors`, {
      method: 'POST',
      headers: {
        apikey: server.anonKey,
        authorization: `Bearer ${session?.access_token ?? ''}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ factor_type: 'phone', ...extra }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ msg: message });
  });

  test('turned off (the default): enroll answers mfa_phone_enroll_not_enabled', async () => {
    const erin = await signedInUser(off);
    const { error } = await erin.auth.mfa.enroll({ factorType: 'phone', phone: newNumber() });
    expect(error?.code).toBe('mfa_phone_enroll_not_enabled');
    expect(error?.status).toBe(422);
  });
});

describe('what a phone factor may cost', () => {
  test('concurrent challenges while a text is under way: one text, the others 429', async () => {
    const frank = await signedInUser();
    const phone = newNumber();
    const { data } = await frank.auth.mfa.enroll({ factorType: 'phone', phone });
    const factorId = data?.id ?? '';
    const since = twilio.requests.length;
    // The provider takes its time (until AUTH_SMS_TIMEOUT_MS): the slot is claimed before the send.
    twilio.answerWith(() => 'hang');
    let answers;
    try {
      answers = await Promise.all(Array.from({ length: 5 }, () => frank.auth.mfa.challenge({ factorId })));
    } finally {
      twilio.answerWith(undefined);
    }
    expect(twilio.requests.slice(since).filter((r) => r.form.To === `+${phone}`)).toHaveLength(1);
    expect(answers.filter((a) => a.error?.status === 500)).toHaveLength(1);
    expect(answers.filter((a) => a.error?.code === 'over_sms_send_rate_limit')).toHaveLength(4);
    // The text that never went out gave its slot back.
    expect((await frank.auth.mfa.challenge({ factorId })).error).toBeNull();
  });

  test('unverified factors of other numbers count against max_enrolled_factors (422)', async () => {
    const gina = await signedInUser(tight);
    const first = newNumber();
    expect((await gina.auth.mfa.enroll({ factorType: 'phone', phone: first })).error).toBeNull();
    expect((await gina.auth.mfa.enroll({ factorType: 'phone', phone: newNumber() })).error).toBeNull();
    const third = await gina.auth.mfa.enroll({ factorType: 'phone', phone: newNumber() });
    expect(third.error?.code).toBe('too_many_enrolled_mfa_factors');
    expect(third.error?.status).toBe(422);
    // A TOTP factor is refused too: the cap is on every factor.
    const totp = await gina.auth.mfa.enroll({ factorType: 'totp' });
    expect(totp.error?.code).toBe('too_many_enrolled_mfa_factors');
    // The same number again replaces its unverified factor.
    expect((await gina.auth.mfa.enroll({ factorType: 'phone', phone: first })).error).toBeNull();
    const rows = await tight.sql.query("select 1 from auth.mfa_factors where factor_type = 'phone' and phone = $1", [
      first,
    ]);
    expect(rows.rowCount).toBe(1);
  });

  test('challenges count against AUTH_RATE_LIMIT_SMS_SENT; over it nothing is texted', async () => {
    const hank = await signedInUser(tight);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { data, error } = await hank.auth.mfa.enroll({ factorType: 'phone', phone: newNumber() });
      expect(error).toBeNull();
      ids.push(data?.id ?? '');
    }
    expect((await hank.auth.mfa.challenge({ factorId: ids[0] ?? '' })).error).toBeNull();
    const since = twilio.requests.length;
    const second = await hank.auth.mfa.challenge({ factorId: ids[1] ?? '' });
    expect(second.error?.code).toBe('over_sms_send_rate_limit');
    expect(second.error?.message).toBe('SMS rate limit exceeded');
    expect(twilio.requests.length).toBe(since);
  });

  test('anonymous users may not enroll: 403 no_authorization', async () => {
    const anon = supabaseClient(tight);
    expect((await anon.auth.signInAnonymously()).error).toBeNull();
    const { error } = await anon.auth.mfa.enroll({ factorType: 'phone', phone: newNumber() });
    expect(error?.code).toBe('no_authorization');
    expect(error?.status).toBe(403);
  });
});
