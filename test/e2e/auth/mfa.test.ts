/**
 * TOTP two-factor sign-in through supabase-js: enroll, challenge, verify with a code computed the
 * way an authenticator app does, the aal2 session an RLS policy can require, and unenrolment.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { decodeJwt } from 'jose';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

let server: TestServer;
// Clients keep no session and never refresh on their own (see supabaseClient).
const client = (): SupabaseClient => supabaseClient(server);

beforeAll(async () => {
  server = await startTestServer({
    env: { AUTH_ANONYMOUS_SIGN_INS: 'true' },
    migrations: {
      '20240101000000_vault.sql': `
        create table public.vault (id int primary key, secret text not null);
        insert into public.vault values (1, 'launch codes');
        alter table public.vault enable row level security;
        grant select on public.vault to authenticated;
        create policy "second factor required" on public.vault for select to authenticated
          using ((auth.jwt() ->> 'aal') = 'aal2');
      `,
    },
  });
});
afterAll(async () => {
  await server?.stop();
});

/** What the access token's holder sees of public.vault, with PostgreSQL deciding through RLS. */
async function vaultAs(accessToken: string): Promise<unknown[]> {
  const db = await server.sql.connect();
  try {
    await db.query('begin');
    await db.query(`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)`, [
      JSON.stringify(decodeJwt(accessToken)),
    ]);
    const rows = (await db.query('select secret from public.vault')).rows;
    await db.query('commit');
    return rows;
  } finally {
    db.release();
  }
}

async function accessToken(supabase: SupabaseClient): Promise<string> {
  return (await supabase.auth.getSession()).data.session?.access_token ?? '';
}

/** A 6-digit code that is not the current one for `secret`. */
async function wrongCode(secret: string): Promise<string> {
  const right = await generate({ secret });
  return right === '123456' ? '654321' : '123456';
}

describe('TOTP enrolment and aal2', () => {
  let factorId = '';
  let secret = '';
  let alice: SupabaseClient;

  test('enroll returns a secret, an otpauth URI and a QR code; the factor starts unverified', async () => {
    alice = client();
    expect((await alice.auth.signUp({ email: 'alice@example.com', password: 'alice password' })).error).toBeNull();
    const { data, error } = await alice.auth.mfa.enroll({
      factorType: 'totp',
      friendlyName: 'phone app',
      issuer: 'Trellis Test',
    });
    expect(error).toBeNull();
    expect(data?.type).toBe('totp');
    expect(data?.friendly_name).toBe('phone app');
    expect(data?.totp.qr_code.startsWith('data:image/svg+xml;utf-8,<svg')).toBe(true);
    expect(data?.totp.uri).toMatch(/^otpauth:\/\/totp\/Trellis%20Test:alice%40example\.com\?/);
    factorId = data?.id ?? '';
    secret = data?.totp.secret ?? '';
    expect(secret).toMatch(/^[A-Z2-7]+=*$/);

    const factors = await alice.auth.mfa.listFactors();
    expect(factors.error).toBeNull();
    expect(factors.data?.all).toEqual([
      expect.objectContaining({ id: factorId, status: 'unverified', factor_type: 'totp' }),
    ]);
    expect(factors.data?.totp).toEqual([]);
    const level = await alice.auth.mfa.getAuthenticatorAssuranceLevel();
    expect(level.data).toMatchObject({ currentLevel: 'aal1', nextLevel: 'aal1' });
  });

  test('a friendly name is unique per user', async () => {
    const { error } = await alice.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'phone app' });
    expect(error?.code).toBe('mfa_factor_name_conflict');
    expect(error?.status).toBe(422);
  });

  test('a wrong code is refused and the challenge can be tried again', async () => {
    const challenge = await alice.auth.mfa.challenge({ factorId });
    expect(challenge.error).toBeNull();
    expect(challenge.data?.type).toBe('totp');
    expect(challenge.data?.expires_at).toBeGreaterThan(Date.now() / 1000);
    const wrong = await alice.auth.mfa.verify({
      factorId,
      challengeId: challenge.data?.id ?? '',
      code: await wrongCode(secret),
    });
    expect(wrong.error?.code).toBe('mfa_verification_failed');
    expect(wrong.error?.status).toBe(422);
    expect(decodeJwt(await accessToken(alice)).aal).toBe('aal1');

    const right = await alice.auth.mfa.verify({
      factorId,
      challengeId: challenge.data?.id ?? '',
      code: await generate({ secret }),
    });
    expect(right.error).toBeNull();
    // A verified challenge is spent.
    const again = await alice.auth.mfa.verify({
      factorId,
      challengeId: challenge.data?.id ?? '',
      code: await generate({ secret }),
    });
    expect(again.error?.code).toBe('mfa_ip_address_mismatch');
  });

  test("verifying the first factor ends the user's other aal1 sessions", async () => {
    const dora = client();
    await dora.auth.signUp({ email: 'dora@example.com', password: 'dora password' });
    const other = client();
    await other.auth.signInWithPassword({ email: 'dora@example.com', password: 'dora password' });
    const enrolled = await dora.auth.mfa.enroll({ factorType: 'totp' });
    const verified = await dora.auth.mfa.challengeAndVerify({
      factorId: enrolled.data?.id ?? '',
      code: await generate({ secret: enrolled.data?.totp.secret ?? '' }),
    });
    expect(verified.error).toBeNull();
    expect((await dora.auth.getUser()).error).toBeNull();
    expect((await other.auth.refreshSession()).error?.code).toBe('refresh_token_not_found');
  });

  test('the verified session is aal2, in the JWT and for auth-js', async () => {
    const token = await accessToken(alice);
    const claims = decodeJwt(token);
    expect(claims.aal).toBe('aal2');
    expect((claims.amr as { method: string }[]).map((a) => a.method).sort()).toEqual(['password', 'totp']);
    const level = await alice.auth.mfa.getAuthenticatorAssuranceLevel();
    expect(level.error).toBeNull();
    expect(level.data).toMatchObject({ currentLevel: 'aal2', nextLevel: 'aal2' });
    // getClaims checks an HS256 token with the server (GET /user) before trusting it.
    const verified = await alice.auth.getClaims();
    expect(verified.error).toBeNull();
    expect(verified.data?.claims.aal).toBe('aal2');
    const factors = await alice.auth.mfa.listFactors();
    expect(factors.data?.totp).toEqual([expect.objectContaining({ id: factorId, status: 'verified' })]);
    // The refreshed session keeps its level.
    const refreshed = await alice.auth.refreshSession();
    expect(refreshed.error).toBeNull();
    expect(decodeJwt(refreshed.data.session?.access_token ?? '').aal).toBe('aal2');
  });

  test('an RLS policy on auth.jwt() aal lets the aal2 session read and the aal1 session not', async () => {
    const aal1 = client();
    expect(
      (await aal1.auth.signInWithPassword({ email: 'alice@example.com', password: 'alice password' })).error,
    ).toBeNull();
    const level = await aal1.auth.mfa.getAuthenticatorAssuranceLevel();
    expect(level.data).toMatchObject({ currentLevel: 'aal1', nextLevel: 'aal2' });
    expect(await vaultAs(await accessToken(alice))).toEqual([{ secret: 'launch codes' }]);
    expect(await vaultAs(await accessToken(aal1))).toEqual([]);

    // Stepping up the second session with challengeAndVerify opens the vault for it too.
    const stepped = await aal1.auth.mfa.challengeAndVerify({ factorId, code: await generate({ secret }) });
    expect(stepped.error).toBeNull();
    expect(await vaultAs(await accessToken(aal1))).toEqual([{ secret: 'launch codes' }]);
  });

  test('a verified factor cannot be removed from an aal1 session', async () => {
    const aal1 = client();
    await aal1.auth.signInWithPassword({ email: 'alice@example.com', password: 'alice password' });
    const { error } = await aal1.auth.mfa.unenroll({ factorId });
    expect(error?.code).toBe('insufficient_aal');
    expect(error?.status).toBe(422);
    // Nor can an aal1 session add a factor of its own (it could then verify it and reach aal2).
    const sneaky = await aal1.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'thief' });
    expect(sneaky.error?.code).toBe('insufficient_aal');
    expect(sneaky.error?.status).toBe(403);
    expect((await aal1.auth.mfa.listFactors()).data?.totp).toHaveLength(1);
    // Nor change the credentials: a stolen password alone must not take the account over.
    const password = await aal1.auth.updateUser({ password: 'thief password' });
    expect(password.error?.code).toBe('insufficient_aal');
    expect(password.error?.status).toBe(403);
    const email = await aal1.auth.updateUser({ email: 'thief@example.com' });
    expect(email.error?.code).toBe('insufficient_aal');
    expect(
      (await client().auth.signInWithPassword({ email: 'alice@example.com', password: 'alice password' })).error,
    ).toBeNull();
  });

  test('unenrolling from aal2 removes the factor and drops sessions back to aal1', async () => {
    const { data, error } = await alice.auth.mfa.unenroll({ factorId });
    expect(error).toBeNull();
    expect(data?.id).toBe(factorId);
    expect((await alice.auth.mfa.listFactors()).data?.all).toEqual([]);
    const refreshed = await alice.auth.refreshSession();
    expect(decodeJwt(refreshed.data.session?.access_token ?? '').aal).toBe('aal1');
    expect(await vaultAs(refreshed.data.session?.access_token ?? '')).toEqual([]);
  });
});

describe('factor and challenge errors', () => {
  test("unknown factors and challenges, other users' factors, and unsupported types", async () => {
    const bob = client();
    await bob.auth.signUp({ email: 'bob@example.com', password: 'bob password' });
    const mallory = client();
    await mallory.auth.signUp({ email: 'mallory@example.com', password: 'mallory password' });
    const enrolled = await bob.auth.mfa.enroll({ factorType: 'totp' });
    const bobFactor = enrolled.data?.id ?? '';

    const stolen = await mallory.auth.mfa.challenge({ factorId: bobFactor });
    expect(stolen.error?.code).toBe('mfa_factor_not_found');
    expect((await mallory.auth.mfa.unenroll({ factorId: bobFactor })).error?.code).toBe('mfa_factor_not_found');
    expect((await bob.auth.mfa.challenge({ factorId: 'not-a-uuid' })).error?.status).toBe(404);
    const noChallenge = await bob.auth.mfa.verify({
      factorId: bobFactor,
      challengeId: crypto.randomUUID(),
      code: '123456',
    });
    expect(noChallenge.error?.code).toBe('mfa_factor_not_found');
    expect(noChallenge.error?.status).toBe(404);
    const phone = await bob.auth.mfa.enroll({ factorType: 'phone', phone: '+15555550100' });
    expect(phone.error?.status).toBe(422);
  });

  test('an unverified factor can be removed from aal1, and the admin API lists and deletes factors', async () => {
    const carol = client();
    const signUp = await carol.auth.signUp({ email: 'carol@example.com', password: 'carol password' });
    const first = await carol.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'first' });
    expect((await carol.auth.mfa.unenroll({ factorId: first.data?.id ?? '' })).error).toBeNull();

    const second = await carol.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'second' });
    const verified = await carol.auth.mfa.challengeAndVerify({
      factorId: second.data?.id ?? '',
      code: await generate({ secret: second.data?.totp.secret ?? '' }),
    });
    expect(verified.error).toBeNull();
    const admin = supabaseClient(server, server.serviceRoleKey);
    const listed = await admin.auth.admin.mfa.listFactors({ userId: signUp.data.user?.id ?? '' });
    expect(listed.error).toBeNull();
    expect(listed.data?.factors).toEqual([expect.objectContaining({ id: second.data?.id, status: 'verified' })]);
    const deleted = await admin.auth.admin.mfa.deleteFactor({
      userId: signUp.data.user?.id ?? '',
      id: second.data?.id ?? '',
    });
    expect(deleted.error).toBeNull();
    expect((await carol.auth.mfa.listFactors()).data?.all).toEqual([]);
  });
});

describe('who may enroll', () => {
  test('an anonymous user may not enroll a TOTP factor (GoTrue: 403 no_authorization)', async () => {
    const anon = client();
    expect((await anon.auth.signInAnonymously()).error).toBeNull();
    const { error } = await anon.auth.mfa.enroll({ factorType: 'totp' });
    expect(error?.code).toBe('no_authorization');
    expect(error?.status).toBe(403);
  });

  test('a second TOTP enrolment replaces the unverified one, and its name is still taken until then', async () => {
    const ivy = client();
    expect(
      (await ivy.auth.signUp({ email: `ivy-${Date.now()}@example.com`, password: 'ivy password' })).error,
    ).toBeNull();
    const first = await ivy.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'app' });
    expect(first.error).toBeNull();
    expect((await ivy.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'app' })).error?.code).toBe(
      'mfa_factor_name_conflict',
    );
    const second = await ivy.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'other app' });
    expect(second.error).toBeNull();
    expect((await ivy.auth.mfa.listFactors()).data?.all.map((f) => f.id)).toEqual([second.data?.id]);
  });
});
