/**
 * TOTP second factors: enroll (secret + QR code), challenge, verify (the session becomes aal2, which
 * the access token's `aal` claim shows RLS policies), unenroll.
 */
import crypto from 'node:crypto';
import type { Context } from 'hono';
import { generateSecret, generateURI, verify as verifyTotp } from 'otplib';
import { z } from 'zod';
import { readJson } from '../platform/body.js';
import { callerClaims, requireCaller, type AuthContext } from './context.js';
import { authError, codes, errors } from './errors.js';
import { mfaVerificationHook } from './hooks-calls.js';
import type { AuthLimits } from './limits.js';
import { addAmr, reissue } from './sessions.js';
import { findUserById } from './users.js';
import { checkNewFactor } from './mfa-rules.js';
import { respondJson } from '../platform/json.js';
import {
  challengePhoneFactor,
  enrollPhoneFactor,
  isPhoneFactor,
  mfaPhoneErrors,
  phoneFactorCodeIsRight,
} from './mfa-phone.js';

const CHALLENGE_TTL_S = 300;

interface FactorRow {
  id: string;
  user_id: string;
  friendly_name: string | null;
  factor_type: string;
  status: 'verified' | 'unverified';
  secret: string | null;
  phone: string | null;
}

const enrollBody = z.object({
  factor_type: z.string(),
  friendly_name: z.string().max(256).optional(),
  issuer: z.string().max(256).optional(),
  phone: z.string().max(64).optional(),
});

export async function enroll(ctx: AuthContext, c: Context) {
  // GoTrue authenticates the whole /factors route first: no token is 401 whatever the body says.
  await callerClaims(ctx, c);
  const body = await readJson(c, enrollBody, codes);
  if (body.factor_type === 'phone') return enrollPhoneFactor(ctx, c, body);
  if (body.factor_type === 'phone' || body.factor_type === 'webauthn') {
    throw authError(
      422,
      `mfa_${body.factor_type}_enroll_not_enabled`,
      `MFA enroll is disabled for ${body.factor_type === 'phone' ? 'Phone' : 'WebAuthn'}; Trellis supports totp`,
    );
  }
  if (body.factor_type !== 'totp') throw errors.validation('factor_type needs to be totp or phone');
  if (!ctx.config.auth.mfa.totpEnroll) throw errors.mfaTotpDisabled('enroll');
  const secret = generateSecret();
  const factor = await ctx.db.transaction(async (tx) => {
    const caller = await requireCaller(ctx, c, tx, true);
    const { user } = caller;
    const name = body.friendly_name ?? '';
    // Unverified TOTP factors abandoned earlier would pile up: a new enrolment replaces them.
    await checkNewFactor(ctx, tx, caller, name, { type: 'totp' });
    const id = crypto.randomUUID();
    await tx.query(
      `insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, secret) values ($1, $2, $3, 'totp', 'unverified', $4)`,
      [id, user.id, name, secret],
    );
    return { id, name, label: user.email || user.id };
  });
  const issuer = body.issuer ?? new URL(ctx.config.auth.siteUrl).host;
  const uri = generateURI({ issuer, label: factor.label, secret });
  // auth-js prefixes the SVG with `data:image/svg+xml;utf-8,` itself.
  // Loaded at the first enrolment (it brings a PNG encoder): not part of every start.
  const { default: QRCode } = await import('qrcode');
  const qr = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 1 });
  return respondJson(c, {
    id: factor.id,
    type: 'totp',
    friendly_name: factor.name,
    totp: { qr_code: qr, secret, uri },
  });
}

async function callerFactor(ctx: AuthContext, c: Context, tx: Parameters<typeof requireCaller>[2]) {
  const caller = await requireCaller(ctx, c, tx);
  const id = c.req.param('id') ?? '';
  const factor = /^[0-9a-f-]{36}$/i.test(id)
    ? (
        await tx.query<FactorRow>('select * from auth.mfa_factors where id = $1 and user_id = $2 for update', [
          id,
          caller.user.id,
        ])
      ).rows[0]
    : undefined;
  if (!factor) throw errors.mfaFactorNotFound();
  return { caller, factor };
}

export async function challenge(ctx: AuthContext, limits: AuthLimits, c: Context) {
  if (await isPhoneFactor(ctx, c)) return challengePhoneFactor(ctx, limits, c);
  const client = ctx.client(c);
  return respondJson(
    c,
    await ctx.db.transaction(async (tx) => {
      const { factor } = await callerFactor(ctx, c, tx);
      if (!ctx.config.auth.mfa.totpVerify) throw errors.mfaTotpDisabled('verify');
      const id = crypto.randomUUID();
      const created = (
        await tx.query<{ created_at: Date }>(
          'insert into auth.mfa_challenges (id, factor_id, ip_address) values ($1, $2, $3) returning created_at',
          [id, factor.id, client.ip ?? null],
        )
      ).rows[0];
      await tx.query('update auth.mfa_factors set last_challenged_at = now() where id = $1', [factor.id]);
      const expiresAt = Math.floor((created?.created_at.getTime() ?? Date.now()) / 1000) + CHALLENGE_TTL_S;
      return { id, type: 'totp', expires_at: expiresAt };
    }),
  );
}

const verifyBody = z.object({
  challenge_id: z.string().max(64),
  code: z.string().max(16, { error: 'code is at most 16 characters' }),
});

export async function verifyFactor(ctx: AuthContext, limits: AuthLimits, c: Context) {
  await callerClaims(ctx, c);
  const body = await readJson(c, verifyBody, codes);
  if (body.code.trim() === '') throw errors.validation('Code needs to be non-empty');
  const client = ctx.client(c);
  await ctx.limit(limits.verify, client.ip);
  // The attempt is judged first and the outcome written after, so a wrong code (and its count) is
  // not rolled back with the error.
  const outcome = await ctx.db.transaction(async (tx) => {
    const { caller, factor } = await callerFactor(ctx, c, tx);
    const phone = factor.factor_type === 'phone';
    if (!phone && !ctx.config.auth.mfa.totpVerify) throw errors.mfaTotpDisabled('verify');
    const row = /^[0-9a-f-]{36}$/i.test(body.challenge_id)
      ? (
          await tx.query<{ verified_at: Date | null; expired: boolean; ip: string | null; otp_code: string | null }>(
            `select verified_at, otp_code, (created_at < now() - make_interval(secs => $3) or failed_attempts >= $4) as expired, host(ip_address) as ip
             from auth.mfa_challenges where id = $1 and factor_id = $2 for update`,
            [body.challenge_id, factor.id, CHALLENGE_TTL_S, limits.otpMaxAttempts],
          )
        ).rows[0]
      : undefined;
    if (!row) throw errors.mfaChallengeNotFound();
    // A challenge is answered once, from the address that asked for it (GoTrue's rule).
    if (row.verified_at || (row.ip !== null && client.ip !== undefined && row.ip !== client.ip))
      throw errors.mfaChallengeSpent();
    if (row.expired) throw errors.mfaChallengeExpired();
    const result = phone
      ? { valid: await phoneFactorCodeIsRight(ctx, tx, factor, row.otp_code, body.code.trim()) }
      : await verifyTotp({ secret: factor.secret ?? '', token: body.code.trim(), epochTolerance: 30 }).catch(() => ({
          valid: false,
        }));
    // GoTrue's mfa_verification_attempt hook: a rejection signs the user out, committed before the 403.
    const verdict = {
      userId: caller.user.id,
      factorId: factor.id,
      factorType: phone ? 'phone' : 'totp',
      valid: result.valid,
    };
    const rejected = await mfaVerificationHook(ctx, tx, verdict, client.ip);
    if (rejected) return { ok: false as const, error: rejected, phone };
    if (!result.valid) {
      // A challenge takes AUTH_OTP_MAX_ATTEMPTS wrong codes, then answers as expired (even to the
      // right code): guessing goes on only through new challenges, each one per-IP limited.
      await tx.query('update auth.mfa_challenges set failed_attempts = failed_attempts + 1 where id = $1', [
        body.challenge_id,
      ]);
      return { ok: false as const, error: undefined, phone };
    }
    await tx.query('update auth.mfa_challenges set verified_at = now() where id = $1', [body.challenge_id]);
    await tx.query(`update auth.mfa_factors set status = 'verified', updated_at = now() where id = $1`, [factor.id]);
    const session = (
      await tx.query<{ id: string; user_id: string; aal: 'aal2'; factor_id: string; not_after: Date | null }>(
        `update auth.sessions set aal = 'aal2', factor_id = $2, updated_at = now() where id = $1 returning id, user_id, aal, factor_id, not_after`,
        [caller.session.id, factor.id],
      )
    ).rows[0];
    if (!session) throw errors.sessionNotFound();
    await addAmr(tx, session.id, phone ? 'mfa/phone' : 'totp');
    // Sessions that never passed the second factor end once it is in force, as on GoTrue.
    await tx.query(`delete from auth.sessions where user_id = $1 and aal = 'aal1'`, [caller.user.id]);
    const user = (await findUserById(tx, caller.user.id)) ?? caller.user;
    return { ok: true as const, session: await reissue(tx, ctx.settings, user, session) };
  });
  if (!outcome.ok) throw outcome.error ?? (outcome.phone ? mfaPhoneErrors.wrongCode() : errors.mfaVerificationFailed());
  return respondJson(c, outcome.session);
}

export async function unenroll(ctx: AuthContext, c: Context) {
  return respondJson(
    c,
    await ctx.db.transaction(async (tx) => {
      const { caller, factor } = await callerFactor(ctx, c, tx);
      if (factor.status === 'verified' && caller.session.aal !== 'aal2') throw errors.insufficientAal();
      await tx.query('delete from auth.mfa_factors where id = $1', [factor.id]);
      await tx.query(`update auth.sessions set aal = 'aal1', factor_id = null where user_id = $1 and factor_id = $2`, [
        caller.user.id,
        factor.id,
      ]);
      return { id: factor.id };
    }),
  );
}
