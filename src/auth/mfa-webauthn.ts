/**
 * WebAuthn second factors (auth-js `mfa.webauthn.*`): enroll makes an unverified factor, its first
 * challenge hands out creation options (`webauthn.type: 'create'`) and verifying it stores the
 * credential in mfa_factors.web_authn_credential; later challenges hand out request options
 * (`'request'`) for that credential. Either verification makes the session aal2, as TOTP's does.
 * The /factors routes reach TOTP (mfa.ts) through the dispatchers at the end of this file.
 */
import crypto from 'node:crypto';
import type { Context } from 'hono';
import { z } from 'zod';
import type { Tx } from '../db/index.js';
import { readJson } from '../platform/body.js';
import { respondJson } from '../platform/json.js';
import { callerClaims, requireCaller, type AuthContext, type Caller } from './context.js';
import { codes, errors } from './errors.js';
import type { AuthLimits } from './limits.js';
import { challenge as totpChallenge, enroll as totpEnroll, verifyFactor as totpVerify } from './mfa.js';
import { addAmr, reissue } from './sessions.js';
import { findUserById, isUuid } from './users.js';
import { checkNewFactor } from './mfa-rules.js';
import {
  authenticationOptions,
  parseAssertion,
  parseRegistration,
  registrationOptions,
  verifyAssertion,
  verifyRegistration,
  WEBAUTHN_CHALLENGE_TTL_S,
  type CeremonySession,
  type StoredCredential,
} from './webauthn.js';

/** mfa_factors.web_authn_credential: what verifying an assertion needs, binary as base64url. */
interface SavedCredential {
  id: string;
  public_key: string;
  sign_count: number;
  transports: string[];
  attestation_type: string;
}

interface WebAuthnFactorRow {
  id: string;
  friendly_name: string | null;
  factor_type: string;
  status: 'verified' | 'unverified';
  web_authn_credential: SavedCredential | null;
}

const toStored = (s: SavedCredential): StoredCredential => ({
  id: s.id,
  publicKey: Buffer.from(s.public_key, 'base64url'),
  counter: s.sign_count,
  transports: s.transports,
});

const enrollBody = z.object({
  factor_type: z.string().optional(),
  friendly_name: z.string().max(256).optional(),
  issuer: z.string().max(256).optional(),
});

async function enrollWebAuthn(ctx: AuthContext, c: Context, name: string) {
  if (!ctx.config.auth.webauthn.mfaEnroll) throw errors.mfaWebAuthnDisabled('enroll');
  const factor = await ctx.db.transaction(async (tx) => {
    const caller = await requireCaller(ctx, c, tx, true);
    const { user } = caller;
    // A new enrolment replaces the unverified WebAuthn factors abandoned earlier.
    await checkNewFactor(ctx, tx, caller, name, { type: 'webauthn' });
    const id = crypto.randomUUID();
    await tx.query(
      `insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status) values ($1, $2, $3, 'webauthn', 'unverified')`,
      [id, user.id, name],
    );
    return { id, name };
  });
  return respondJson(c, { id: factor.id, type: 'webauthn', friendly_name: factor.name });
}

async function ownFactor(ctx: AuthContext, c: Context, tx: Tx): Promise<{ caller: Caller; factor: WebAuthnFactorRow }> {
  const caller = await requireCaller(ctx, c, tx);
  const id = c.req.param('id') ?? '';
  const factor = isUuid(id)
    ? (
        await tx.query<WebAuthnFactorRow>(
          'select id, friendly_name, factor_type, status, web_authn_credential from auth.mfa_factors where id = $1 and user_id = $2 for update',
          [id, caller.user.id],
        )
      ).rows[0]
    : undefined;
  if (!factor) throw errors.mfaFactorNotFound();
  return { caller, factor };
}

async function challengeWebAuthn(ctx: AuthContext, c: Context) {
  const rp = ctx.config.auth.webauthn;
  const client = ctx.client(c);
  return respondJson(
    c,
    await ctx.db.transaction(async (tx) => {
      const { caller, factor } = await ownFactor(ctx, c, tx);
      if (!rp.mfaVerify) throw errors.mfaWebAuthnDisabled('verify');
      let webauthn: { type: 'create' | 'request'; credential_options: { publicKey: unknown } };
      let session: CeremonySession;
      if (factor.status === 'unverified' || !factor.web_authn_credential) {
        const others = await tx.query<{ web_authn_credential: SavedCredential }>(
          `select web_authn_credential from auth.mfa_factors where user_id = $1 and web_authn_credential is not null`,
          [caller.user.id],
        );
        const name = caller.user.email || caller.user.phone || caller.user.id;
        const made = await registrationOptions(rp, {
          userId: caller.user.id,
          userName: name,
          displayName: name,
          exclude: others.rows.map((r) => toStored(r.web_authn_credential)),
          residentKey: 'discouraged',
        });
        session = made.session;
        webauthn = { type: 'create', credential_options: { publicKey: made.options } };
      } else {
        const made = await authenticationOptions(rp, [toStored(factor.web_authn_credential)]);
        session = made.session;
        webauthn = { type: 'request', credential_options: { publicKey: made.options } };
      }
      const id = crypto.randomUUID();
      const created = (
        await tx.query<{ created_at: Date }>(
          `insert into auth.mfa_challenges (id, factor_id, ip_address, web_authn_session_data) values ($1, $2, $3, $4)
           returning created_at`,
          [id, factor.id, client.ip ?? null, JSON.stringify(session)],
        )
      ).rows[0];
      await tx.query('update auth.mfa_factors set last_challenged_at = now() where id = $1', [factor.id]);
      const expiresAt = Math.floor((created?.created_at.getTime() ?? Date.now()) / 1000) + WEBAUTHN_CHALLENGE_TTL_S;
      return { id, type: 'webauthn', expires_at: expiresAt, webauthn };
    }),
  );
}

const verifyBody = z.object({
  challenge_id: z.string().max(64),
  code: z.string().max(16).optional(),
  webauthn: z
    .object({ type: z.string().max(16).optional(), credential_response: z.unknown().optional() })
    .passthrough()
    .optional(),
});

async function verifyWebAuthn(ctx: AuthContext, limits: AuthLimits, c: Context) {
  const body = await readJson(c, verifyBody, codes);
  const rp = ctx.config.auth.webauthn;
  if (!body.webauthn) throw errors.validation('WebAuthn config required');
  const type = body.webauthn.type;
  if (type !== 'create' && type !== 'request') throw errors.validation('WebAuthn type must be create or request');
  const raw = body.webauthn.credential_response;
  if (raw === undefined || raw === null) throw errors.validation('credential_response required');
  const client = ctx.client(c);
  await ctx.limit(limits.verify, client.ip);
  // The challenge is used up first, in a transaction of its own: a wrong answer cannot be retried.
  const { factor, session } = await ctx.db.transaction(async (tx) => {
    const { factor } = await ownFactor(ctx, c, tx);
    if (!rp.mfaVerify) throw errors.mfaWebAuthnDisabled('verify');
    const row = isUuid(body.challenge_id)
      ? (
          await tx.query<{
            data: CeremonySession | null;
            expired: boolean;
            ip: string | null;
            verified_at: Date | null;
          }>(
            `select web_authn_session_data as data, created_at < now() - make_interval(secs => $3) as expired,
                    host(ip_address) as ip, verified_at
             from auth.mfa_challenges where id = $1 and factor_id = $2 for update`,
            [body.challenge_id, factor.id, WEBAUTHN_CHALLENGE_TTL_S],
          )
        ).rows[0]
      : undefined;
    if (!row?.data) throw errors.mfaChallengeNotFound();
    if (row.verified_at || (row.ip !== null && client.ip !== undefined && row.ip !== client.ip))
      throw errors.mfaChallengeSpent();
    await tx.query('delete from auth.mfa_challenges where id = $1', [body.challenge_id]);
    if (row.expired) return { factor, session: undefined };
    return { factor, session: row.data };
  });
  if (!session) throw errors.mfaChallengeExpired();
  const registering = factor.status === 'unverified' || !factor.web_authn_credential;
  if (type !== (registering ? 'create' : 'request'))
    throw errors.validation(`WebAuthn type must be ${registering ? 'create' : 'request'} for this factor`);
  let saved: SavedCredential;
  let aaguid: string | null = null;
  if (registering) {
    const response = parseRegistration(raw);
    if (!response) throw errors.validation('Invalid credential_response');
    const made = await verifyRegistration(rp, session, response);
    if (!made) throw errors.mfaWebAuthnFailed();
    aaguid = made.aaguid;
    saved = {
      id: made.id,
      public_key: Buffer.from(made.publicKey).toString('base64url'),
      sign_count: made.counter,
      transports: [...(made.transports ?? [])],
      attestation_type: made.attestationType,
    };
  } else {
    const response = parseAssertion(raw);
    const current = factor.web_authn_credential as SavedCredential;
    if (!response) throw errors.validation('Invalid credential_response');
    if (response.rawId !== current.id) throw errors.mfaWebAuthnFailed();
    const checked = await verifyAssertion(rp, session, response, toStored(current));
    if (!checked) throw errors.mfaWebAuthnFailed();
    saved = { ...current, sign_count: checked.newCounter };
  }
  return respondJson(
    c,
    await ctx.db.transaction(async (tx) => {
      const { caller } = await ownFactor(ctx, c, tx);
      if (registering) {
        const taken = await tx.query(
          `select 1 from auth.mfa_factors where web_authn_credential ->> 'id' = $1 and id <> $2`,
          [saved.id, factor.id],
        );
        if (taken.rowCount) throw errors.webauthnCredentialExists();
      }
      await tx.query(
        `update auth.mfa_factors set status = 'verified', web_authn_credential = $2, web_authn_aaguid = coalesce($3, web_authn_aaguid),
           last_webauthn_challenge_data = $4, updated_at = now() where id = $1`,
        [factor.id, JSON.stringify(saved), aaguid, JSON.stringify({ type, challenge: session.challenge })],
      );
      const updated = (
        await tx.query<{ id: string; user_id: string; aal: 'aal2'; factor_id: string; not_after: Date | null }>(
          `update auth.sessions set aal = 'aal2', factor_id = $2, updated_at = now() where id = $1 returning id, user_id, aal, factor_id, not_after`,
          [caller.session.id, factor.id],
        )
      ).rows[0];
      if (!updated) throw errors.sessionNotFound();
      await addAmr(tx, updated.id, 'webauthn');
      await tx.query(`delete from auth.sessions where user_id = $1 and aal = 'aal1'`, [caller.user.id]);
      await tx.query(
        `delete from auth.mfa_factors where user_id = $1 and factor_type = 'webauthn' and status = 'unverified'`,
        [caller.user.id],
      );
      const user = (await findUserById(tx, caller.user.id)) ?? caller.user;
      return reissue(tx, ctx.settings, user, updated);
    }),
  );
}

/** The type of the factor a /factors/{id} request names, if it exists (ownership is checked later). */
async function factorType(ctx: AuthContext, c: Context): Promise<string | undefined> {
  const id = c.req.param('id') ?? '';
  if (!isUuid(id)) return undefined;
  const row = await ctx.db.transaction(
    async (tx) =>
      (await tx.query<{ factor_type: string }>('select factor_type from auth.mfa_factors where id = $1', [id])).rows[0],
  );
  return row?.factor_type;
}

/** POST /factors: WebAuthn here, everything else (TOTP, and the refusals) in mfa.ts. */
export async function enrollFactor(ctx: AuthContext, c: Context) {
  await callerClaims(ctx, c);
  const body = await readJson(c, enrollBody, codes);
  if (body.factor_type === 'webauthn') return enrollWebAuthn(ctx, c, body.friendly_name ?? '');
  return totpEnroll(ctx, c);
}

export async function challengeFactor(ctx: AuthContext, limits: AuthLimits, c: Context) {
  await callerClaims(ctx, c);
  if ((await factorType(ctx, c)) === 'webauthn') return challengeWebAuthn(ctx, c);
  return totpChallenge(ctx, limits, c);
}

export async function verifyAnyFactor(ctx: AuthContext, limits: AuthLimits, c: Context) {
  await callerClaims(ctx, c);
  if ((await factorType(ctx, c)) === 'webauthn') return verifyWebAuthn(ctx, limits, c);
  return totpVerify(ctx, limits, c);
}
