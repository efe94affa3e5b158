/**
 * WebAuthn second factors through supabase-js (`mfa.enroll/challenge/verify` with
 * `factorType: 'webauthn'`), a software authenticator answering the challenges: the first verify
 * registers the credential, later ones sign in at aal2 with it; forged answers are refused.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { asCredential, SoftwareAuthenticator, type Tamper } from '../../helpers/authenticator.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

const RP_ID = 'localhost';
const ORIGIN = 'http://localhost:5173';
let server: TestServer;
let n = 0;

beforeAll(async () => {
  server = await startTestServer({
    env: {
      AUTH_MFA_WEB_AUTHN_ENROLL_ENABLED: 'true',
      AUTH_MFA_WEB_AUTHN_VERIFY_ENABLED: 'true',
      AUTH_WEBAUTHN_RP_ID: RP_ID,
      AUTH_WEBAUTHN_RP_ORIGINS: ORIGIN,
      AUTH_RATE_LIMIT_VERIFY: '1000',
      AUTH_RATE_LIMIT_SIGN_IN: '1000',
    },
  });
});
afterAll(async () => {
  await server?.stop();
});

async function newUser(): Promise<SupabaseClient> {
  const supabase = supabaseClient(server);
  const { error } = await supabase.auth.signUp({ email: `w${++n}@example.com`, password: 'webauthn password' });
  if (error) throw error;
  return supabase;
}

const b64 = (v: unknown) =>
  typeof v === 'string'
    ? v
    : Buffer.from(v instanceof ArrayBuffer ? new Uint8Array(v) : (v as Uint8Array)).toString('base64url');

/** auth-js hands back the options with ArrayBuffers (for navigator.credentials); the authenticator takes JSON. */
function asJson(publicKey: Record<string, unknown>) {
  const user = publicKey.user as { id: unknown } | undefined;
  return {
    ...publicKey,
    challenge: b64(publicKey.challenge),
    ...(user ? { user: { ...user, id: b64(user.id) } } : {}),
  } as never;
}

async function challenge(supabase: SupabaseClient, factorId: string) {
  const { data, error } = await supabase.auth.mfa.challenge({
    factorId,
    webauthn: { rpId: RP_ID, rpOrigins: [ORIGIN] },
  } as never);
  if (error || !data) throw error ?? new Error('no challenge');
  return data as unknown as {
    id: string;
    webauthn: { type: 'create' | 'request'; credential_options: { publicKey: Record<string, unknown> } };
  };
}

async function answer(
  supabase: SupabaseClient,
  factorId: string,
  key: SoftwareAuthenticator,
  tamper: Tamper = {},
  challengeId?: string,
) {
  const c = await challenge(supabase, factorId);
  const options = asJson(c.webauthn.credential_options.publicKey);
  const json = c.webauthn.type === 'create' ? key.create(options, tamper) : key.get(options, tamper);
  const result = await supabase.auth.mfa.verify({
    factorId,
    challengeId: challengeId ?? c.id,
    webauthn: { type: c.webauthn.type, rpId: RP_ID, rpOrigins: [ORIGIN], credential_response: asCredential(json) },
  } as never);
  return { ...result, type: c.webauthn.type, challengeId: c.id, json };
}

async function enrolled(supabase: SupabaseClient, name = '') {
  const { data, error } = await supabase.auth.mfa.enroll({ factorType: 'webauthn', friendlyName: name } as never);
  if (error || !data) throw error ?? new Error('no factor');
  return data.id;
}

describe('enrolment', () => {
  test('enroll makes an unverified webauthn factor; an empty name is allowed, twice', async () => {
    const supabase = await newUser();
    const { data, error } = await supabase.auth.mfa.enroll({ factorType: 'webauthn' } as never);
    expect(error).toBeNull();
    expect(data).toMatchObject({ type: 'webauthn', friendly_name: '' });
    expect((await supabase.auth.mfa.enroll({ factorType: 'webauthn' } as never)).error).toBeNull();
    const { data: factors } = await supabase.auth.mfa.listFactors();
    expect(factors?.all.map((f) => [f.factor_type, f.status])).toEqual([['webauthn', 'unverified']]);
  });

  test('the first challenge creates, its verify stores the credential and gives an aal2 session', async () => {
    const supabase = await newUser();
    const factorId = await enrolled(supabase, 'key');
    const key = new SoftwareAuthenticator({ rpId: RP_ID, origin: ORIGIN });
    const first = await answer(supabase, factorId, key);
    expect(first.type).toBe('create');
    expect(first.error).toBeNull();
    const claims = decodeJwt(first.data?.access_token ?? '');
    expect(claims.aal).toBe('aal2');
    expect((claims.amr as { method: string }[]).map((a) => a.method)).toContain('webauthn');
    const { rows } = await server.sql.query(
      `select status, web_authn_credential ->> 'id' as id from auth.mfa_factors where id = $1`,
      [factorId],
    );
    expect(rows[0]).toEqual({ status: 'verified', id: key.credentialId.toString('base64url') });
    // Later challenges ask for an assertion by that credential.
    await supabase.auth.setSession(first.data as never);
    const second = await answer(supabase, factorId, key);
    expect(second.type).toBe('request');
    expect(second.error).toBeNull();
    expect(decodeJwt(second.data?.access_token ?? '').aal).toBe('aal2');
  });

  test('unenroll removes the factor', async () => {
    const supabase = await newUser();
    const factorId = await enrolled(supabase);
    expect((await supabase.auth.mfa.unenroll({ factorId })).error).toBeNull();
    expect((await supabase.auth.mfa.listFactors()).data?.all).toEqual([]);
  });
});

describe('refusals', () => {
  let supabase: SupabaseClient;
  let factorId: string;
  const key = new SoftwareAuthenticator({ rpId: RP_ID, origin: ORIGIN });

  beforeAll(async () => {
    supabase = await newUser();
    factorId = await enrolled(supabase);
    const made = await answer(supabase, factorId, key);
    if (made.error) throw made.error;
    await supabase.auth.setSession(made.data);
  });

  test.each([
    ['a wrong origin', { origin: 'https://evil.example' }],
    ['a wrong rp id', { rpId: 'evil.example' }],
    ['a wrong challenge', { challenge: Buffer.from('y'.repeat(32)).toString('base64url') }],
  ])('%s is mfa_verification_failed', async (_name, tamper) => {
    const { error } = await answer(supabase, factorId, key, tamper);
    expect(error).toMatchObject({ status: 422, code: 'mfa_verification_failed' });
  });

  test('a signature counter that did not move forward (a cloned key) is mfa_verification_failed', async () => {
    const good = await answer(supabase, factorId, key);
    expect(good.error).toBeNull();
    await supabase.auth.setSession(good.data as never);
    const { error } = await answer(supabase, factorId, key, { counter: key.counter });
    expect(error).toMatchObject({ status: 422, code: 'mfa_verification_failed' });
  });

  test('a challenge answers once', async () => {
    const first = await answer(supabase, factorId, key);
    expect(first.error).toBeNull();
    await supabase.auth.setSession(first.data as never);
    const again = await supabase.auth.mfa.verify({
      factorId,
      challengeId: first.challengeId,
      webauthn: { type: 'request', rpId: RP_ID, rpOrigins: [ORIGIN], credential_response: asCredential(first.json) },
    } as never);
    expect(again.error).toMatchObject({ code: 'mfa_factor_not_found' });
  });

  test('another authenticator cannot answer for the factor', async () => {
    const other = new SoftwareAuthenticator({ rpId: RP_ID, origin: ORIGIN });
    const { error } = await answer(supabase, factorId, other);
    expect(error).toMatchObject({ status: 422, code: 'mfa_verification_failed' });
  });

  async function rawVerify(body: string) {
    const token = (await supabase.auth.getSession()).data.session?.access_token ?? '';
    const res = await fetch(`${server.url}/auth/v1/factors/${factorId}/verify`, {
      method: 'POST',
      headers: { apikey: server.anonKey, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    });
    return { status: res.status, body: (await res.json()) as { error_code?: string; msg?: string } };
  }

  test.each([
    ['malformed JSON', () => Promise.resolve('{"challenge_id"'), 400, 'bad_json'],
    [
      'no webauthn object',
      async () => JSON.stringify({ challenge_id: (await challenge(supabase, factorId)).id }),
      400,
      'validation_failed',
    ],
    [
      'a wrong type',
      async () =>
        JSON.stringify({
          challenge_id: (await challenge(supabase, factorId)).id,
          webauthn: { type: 'x', credential_response: {} },
        }),
      400,
      'validation_failed',
    ],
    [
      'garbage credential JSON',
      async () =>
        JSON.stringify({
          challenge_id: (await challenge(supabase, factorId)).id,
          webauthn: { type: 'request', credential_response: { id: 7 } },
        }),
      400,
      'validation_failed',
    ],
    [
      'a NUL byte',
      async () =>
        JSON.stringify({
          challenge_id: (await challenge(supabase, factorId)).id,
          webauthn: { type: 'request', credential_response: { ...key.get({ challenge: 'AA' }), id: 'a\u0000' } },
        }),
      400,
      'validation_failed',
    ],
  ])('%s', async (_name, body, status, code) => {
    expect(await rawVerify(await body())).toMatchObject({ status, body: { error_code: code } });
  });

  test('a forged token is 403 bad_jwt', async () => {
    const res = await fetch(`${server.url}/auth/v1/factors/${factorId}/challenge`, {
      method: 'POST',
      headers: { apikey: server.anonKey, authorization: 'Bearer a.b.c', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(403);
  });
});

test('with WebAuthn MFA off (the default), enroll is 422 mfa_webauthn_enroll_not_enabled', async () => {
  const off = await startTestServer();
  try {
    const supabase = supabaseClient(off);
    await supabase.auth.signUp({ email: 'off@example.com', password: 'off password' });
    const { error } = await supabase.auth.mfa.enroll({ factorType: 'webauthn' } as never);
    expect(error).toMatchObject({ status: 422, code: 'mfa_webauthn_enroll_not_enabled' });
  } finally {
    await off.stop();
  }
});
