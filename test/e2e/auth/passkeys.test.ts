/**
 * Passkeys through supabase-js (`auth.passkey.*`, `auth.admin.passkey.*`), with a software
 * authenticator standing in for the browser: registration, discoverable sign-in, management, and
 * what a forged, replayed or foreign answer gets.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SoftwareAuthenticator } from '../../helpers/authenticator.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const RP_ID = 'localhost';
const ORIGIN = 'http://localhost:5173';
let server: TestServer;
let admin: SupabaseClient;
let owner: SupabaseClient;
let ownerId: string;
let key: SoftwareAuthenticator;
let passkeyId: string;

const passkeyClient = (k = server.anonKey) =>
  createClient(server.url, k, {
    auth: { persistSession: false, autoRefreshToken: false, experimental: { passkey: true } },
    realtime: { transport: WebSocket as unknown as never },
  });

async function register(client: SupabaseClient, authenticator: SoftwareAuthenticator) {
  const { data: options, error } = await client.auth.passkey.startRegistration();
  if (error || !options) throw error ?? new Error('no options');
  return client.auth.passkey.verifyRegistration({
    challengeId: options.challenge_id,
    credential: authenticator.create(options.options) as never,
  });
}

async function signIn(authenticator: SoftwareAuthenticator, tamper = {}) {
  const client = passkeyClient();
  const { data: options, error } = await client.auth.passkey.startAuthentication();
  if (error || !options) throw error ?? new Error('no options');
  const assertion = authenticator.get(options.options, tamper);
  const result = await client.auth.passkey.verifyAuthentication({
    challengeId: options.challenge_id,
    credential: assertion as never,
  });
  return { client, options, assertion, result };
}

beforeAll(async () => {
  server = await startTestServer({
    env: {
      AUTH_PASSKEY_ENABLED: 'true',
      AUTH_WEBAUTHN_RP_ID: RP_ID,
      AUTH_WEBAUTHN_RP_ORIGINS: ORIGIN,
      // Every sign-in here asks for a challenge, which the verification budget counts.
      AUTH_RATE_LIMIT_VERIFY: '1000',
    },
  });
  admin = passkeyClient(server.serviceRoleKey);
  owner = passkeyClient();
  const { data, error } = await owner.auth.signUp({ email: 'pia@example.com', password: 'pia password' });
  if (error || !data.user) throw error ?? new Error('no user');
  ownerId = data.user.id;
  key = new SoftwareAuthenticator({ rpId: RP_ID, origin: ORIGIN });
  const created = await register(owner, key);
  if (created.error || !created.data) throw created.error ?? new Error('no passkey');
  passkeyId = created.data.id;
});
afterAll(async () => {
  await server?.stop();
});

describe('registration', () => {
  test('options name the relying party and ask for a discoverable ES256 credential', async () => {
    const { data, error } = await owner.auth.passkey.startRegistration();
    expect(error).toBeNull();
    expect(data?.options.rp.id).toBe(RP_ID);
    expect(data?.options.authenticatorSelection?.residentKey).toBe('required');
    expect(data?.options.pubKeyCredParams).toContainEqual({ alg: -7, type: 'public-key' });
    // The registered passkey is excluded, so the authenticator will not make a second one.
    expect(data?.options.excludeCredentials?.map((c) => c.id)).toEqual([key.credentialId.toString('base64url')]);
    expect(data?.expires_at).toBeGreaterThan(Date.now() / 1000);
  });

  test('the stored credential is in auth.webauthn_credentials, GoTrue columns', async () => {
    const { rows } = await server.sql.query(
      'select user_id, credential_id, sign_count, transports from auth.webauthn_credentials where id = $1',
      [passkeyId],
    );
    expect(rows[0]).toMatchObject({ user_id: ownerId, credential_id: key.credentialId, transports: ['internal'] });
  });

  test('an unknown or used challenge is webauthn_challenge_not_found', async () => {
    const { data: options } = await owner.auth.passkey.startRegistration();
    const other = new SoftwareAuthenticator({ rpId: RP_ID, origin: ORIGIN });
    const credential = other.create(options?.options as never);
    const unknown = await owner.auth.passkey.verifyRegistration({
      challengeId: '00000000-0000-0000-0000-000000000000',
      credential: credential as never,
    });
    expect(unknown.error).toMatchObject({ status: 400, code: 'webauthn_challenge_not_found' });
    const first = await owner.auth.passkey.verifyRegistration({
      challengeId: options?.challenge_id as string,
      credential: credential as never,
    });
    expect(first.error).toBeNull();
    const again = await owner.auth.passkey.verifyRegistration({
      challengeId: options?.challenge_id as string,
      credential: credential as never,
    });
    expect(again.error).toMatchObject({ code: 'webauthn_challenge_not_found' });
    await owner.auth.passkey.delete({ passkeyId: first.data?.id as string });
  });

  test.each([
    ['a wrong origin', { origin: 'https://evil.example' }],
    ['a wrong rp id', { rpId: 'evil.example' }],
    ['a wrong challenge', { challenge: Buffer.from('not the challenge').toString('base64url') }],
    ['a get instead of a create', { type: 'webauthn.get' }],
  ])('%s fails verification and stores nothing', async (_name, tamper) => {
    const { data: options } = await owner.auth.passkey.startRegistration();
    const other = new SoftwareAuthenticator({ rpId: RP_ID, origin: ORIGIN });
    const { error } = await owner.auth.passkey.verifyRegistration({
      challengeId: options?.challenge_id as string,
      credential: other.create(options?.options as never, tamper) as never,
    });
    expect(error).toMatchObject({ status: 400, code: 'webauthn_verification_failed' });
    const { data } = await owner.auth.passkey.list();
    expect(data).toHaveLength(1);
  });

  test('a session is required', async () => {
    const { error } = await passkeyClient().auth.passkey.startRegistration();
    expect(error?.name).toBe('AuthSessionMissingError');
  });
});

describe('sign-in', () => {
  test('a registered passkey signs its owner in, and the sign-in is recorded', async () => {
    const { client, options, result } = await signIn(key);
    expect(options.options.allowCredentials ?? []).toHaveLength(0);
    expect(result.error).toBeNull();
    expect(result.data?.user?.id).toBe(ownerId);
    const { data: user } = await client.auth.getUser();
    expect(user.user?.id).toBe(ownerId);
    const claims = JSON.parse(
      Buffer.from(result.data?.session?.access_token.split('.')[1] ?? '', 'base64url').toString(),
    ) as {
      amr: { method: string }[];
    };
    expect(claims.amr.map((a) => a.method)).toEqual(['passkey']);
    const { data: listed } = await owner.auth.passkey.list();
    expect(listed?.[0]?.last_used_at).toEqual(expect.any(String));
  });

  test('a challenge answers once: the same assertion again is webauthn_challenge_not_found', async () => {
    const { client, options, assertion, result } = await signIn(key);
    expect(result.error).toBeNull();
    const again = await client.auth.passkey.verifyAuthentication({
      challengeId: options.challenge_id,
      credential: assertion as never,
    });
    expect(again.error).toMatchObject({ status: 400, code: 'webauthn_challenge_not_found' });
  });

  test('a signature counter that does not move forward (a cloned key) is refused', async () => {
    const { result } = await signIn(key, { counter: 1 });
    expect(result.error).toMatchObject({ status: 400, code: 'webauthn_verification_failed' });
  });

  test.each([
    ['a wrong origin', { origin: 'http://localhost:5174' }],
    ['a wrong rp id', { rpId: 'example.com' }],
    ['a wrong challenge', { challenge: Buffer.from('x'.repeat(32)).toString('base64url') }],
  ])('%s is webauthn_verification_failed', async (_name, tamper) => {
    const { result } = await signIn(key, tamper);
    expect(result.error).toMatchObject({ status: 400, code: 'webauthn_verification_failed' });
  });

  test('an authenticator that was never registered is webauthn_verification_failed', async () => {
    const stranger = new SoftwareAuthenticator({ rpId: RP_ID, origin: ORIGIN });
    const { data: options } = await owner.auth.passkey.startRegistration();
    stranger.create(options?.options as never);
    const { result } = await signIn(stranger);
    expect(result.error).toMatchObject({ status: 400, code: 'webauthn_verification_failed' });
  });

  test('a banned owner cannot sign in with a passkey', async () => {
    const banned = passkeyClient();
    await banned.auth.signUp({ email: 'ban@example.com', password: 'ban password' });
    const k = new SoftwareAuthenticator({ rpId: RP_ID, origin: ORIGIN });
    expect((await register(banned, k)).error).toBeNull();
    const { data } = await banned.auth.getUser();
    await admin.auth.admin.updateUserById(data.user?.id as string, { ban_duration: '24h' });
    const { result } = await signIn(k);
    expect(result.error).toMatchObject({ status: 403, code: 'user_banned' });
  });
});

describe('management', () => {
  test('rename, with its bounds', async () => {
    const { data, error } = await owner.auth.passkey.update({ passkeyId, friendlyName: 'my laptop' });
    expect(error).toBeNull();
    expect(data).toMatchObject({ id: passkeyId, friendly_name: 'my laptop' });
    const tooLong = await owner.auth.passkey.update({ passkeyId, friendlyName: 'n'.repeat(121) });
    expect(tooLong.error).toMatchObject({ status: 400, code: 'validation_failed' });
    const nul = await owner.auth.passkey.update({ passkeyId, friendlyName: 'a\u0000b' });
    expect(nul.error).toMatchObject({ status: 400, code: 'validation_failed' });
    const unknown = await owner.auth.passkey.update({
      passkeyId: '00000000-0000-0000-0000-000000000000',
      friendlyName: 'x',
    });
    expect(unknown.error).toMatchObject({ status: 404 });
  });

  test("another user's passkey is not found for them", async () => {
    const other = passkeyClient();
    await other.auth.signUp({ email: 'oli@example.com', password: 'oli password' });
    const { error } = await other.auth.passkey.delete({ passkeyId });
    expect(error).toMatchObject({ status: 404 });
    expect((await other.auth.passkey.list()).data).toEqual([]);
  });

  test('admins list and delete a user’s passkeys', async () => {
    const second = new SoftwareAuthenticator({ rpId: RP_ID, origin: ORIGIN });
    const created = await register(owner, second);
    const listed = await admin.auth.admin.passkey.listPasskeys({ userId: ownerId });
    expect(listed.data?.map((p) => p.id).sort()).toEqual([passkeyId, created.data?.id].sort());
    const gone = await admin.auth.admin.passkey.deletePasskey({
      userId: ownerId,
      passkeyId: created.data?.id as string,
    });
    expect(gone.error).toBeNull();
    expect((await admin.auth.admin.passkey.listPasskeys({ userId: ownerId })).data?.map((p) => p.id)).toEqual([
      passkeyId,
    ]);
    const notAdmin = await owner.auth.admin.passkey.listPasskeys({ userId: ownerId });
    expect(notAdmin.error).toMatchObject({ status: 403 });
  });

  test("a soft-deleted user's passkeys go with their other credentials", async () => {
    const gone = passkeyClient();
    const { data } = await gone.auth.signUp({ email: 'gone@example.com', password: 'gone password' });
    const k = new SoftwareAuthenticator({ rpId: RP_ID, origin: ORIGIN });
    expect((await register(gone, k)).error).toBeNull();
    expect((await admin.auth.admin.deleteUser(data.user?.id as string, true)).error).toBeNull();
    const { rows } = await server.sql.query('select 1 from auth.webauthn_credentials where user_id = $1', [
      data.user?.id,
    ]);
    expect(rows).toHaveLength(0);
    expect((await signIn(k)).result.error).toMatchObject({ code: 'webauthn_verification_failed' });
  });

  test('a deleted passkey signs nobody in', async () => {
    const k = new SoftwareAuthenticator({ rpId: RP_ID, origin: ORIGIN });
    const created = await register(owner, k);
    expect((await owner.auth.passkey.delete({ passkeyId: created.data?.id as string })).error).toBeNull();
    const { result } = await signIn(k);
    expect(result.error).toMatchObject({ code: 'webauthn_verification_failed' });
  });
});

describe('bad input', () => {
  async function post(path: string, body: string, token?: string) {
    const res = await fetch(`${server.url}/auth/v1${path}`, {
      method: 'POST',
      headers: {
        apikey: server.anonKey,
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body,
    });
    return { status: res.status, body: (await res.json()) as { error_code?: string } };
  }
  const challengeId = async () => {
    const { data } = await passkeyClient().auth.passkey.startAuthentication();
    return data?.challenge_id as string;
  };

  test.each([
    ['malformed JSON', () => '{"challenge_id": ', 400, 'bad_json'],
    ['no challenge', () => '{"credential": {}}', 400, 'validation_failed'],
    ['a challenge that is no uuid', () => '{"challenge_id": "x", "credential": {}}', 400, 'validation_failed'],
    ['a challenge of the wrong type', () => '{"challenge_id": 7, "credential": {}}', 400, 'validation_failed'],
  ])('%s', async (_name, body, status, code) => {
    const res = await post('/passkeys/authentication/verify', body());
    expect(res).toMatchObject({ status, body: { error_code: code } });
  });

  test.each([
    ['garbage credential JSON', { id: 'x' }],
    ['a credential of strings that are no base64url', { id: '!!', rawId: '!!', type: 'public-key', response: {} }],
    [
      'a NUL byte',
      {
        id: 'a\u0000',
        rawId: 'AAAA',
        type: 'public-key',
        response: { clientDataJSON: 'AA', authenticatorData: 'AA', signature: 'AA' },
      },
    ],
    ['huge values', { id: 'A'.repeat(70_000), rawId: 'A', type: 'public-key', response: {} }],
  ])('%s is webauthn_verification_failed, and spends the challenge', async (_name, credential) => {
    const id = await challengeId();
    const res = await post('/passkeys/authentication/verify', JSON.stringify({ challenge_id: id, credential }));
    expect(res).toMatchObject({ status: 400, body: { error_code: 'webauthn_verification_failed' } });
    const again = await post('/passkeys/authentication/verify', JSON.stringify({ challenge_id: id, credential }));
    expect(again.body.error_code).toBe('webauthn_challenge_not_found');
  });

  test('a forged token cannot register', async () => {
    const res = await post('/passkeys/registration/options', '{}', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.');
    expect(res).toMatchObject({ status: 403, body: { error_code: 'bad_jwt' } });
  });
});

test('with passkeys off, every /passkeys route is 404 passkey_disabled', async () => {
  const off = await startTestServer();
  try {
    const client = createClient(off.url, off.anonKey, {
      auth: { persistSession: false, experimental: { passkey: true } },
      realtime: { transport: WebSocket as unknown as never },
    });
    const { error } = await client.auth.passkey.startAuthentication();
    expect(error).toMatchObject({ status: 404, code: 'passkey_disabled', message: 'Passkeys are disabled' });
  } finally {
    await off.stop();
  }
});
