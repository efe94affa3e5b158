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
    },
  });
  off = await startTestServer({});
});
afterAll(async () => {
  await server?.stop();
  await off?.stop();
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
