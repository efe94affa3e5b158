/**
 * Phone second factors (GoTrue's internal/api/mfa.go, phone parts): enroll a number, a challenge
 * texts a code (through the same sendSms as sign-in codes), verify checks it. mfa.ts keeps the
 * factor and session logic every factor type shares and calls in here for what differs.
 */
import crypto from 'node:crypto';
import type { Context } from 'hono';
import { z } from 'zod';
import type { Tx } from '../db/index.js';
import { readJson } from '../platform/body.js';
import { respondJson } from '../platform/json.js';
import { callerClaims, requireCaller, type AuthContext } from './context.js';
import { randomCode } from './crypto.js';
import { authError, codes, errors } from './errors.js';
import { codeHash, codeMatches } from './otp-codes.js';
import type { AuthLimits } from './limits.js';
import { checkNewFactor } from './mfa-rules.js';
import { parseChannel, renderSms, requirePhone, sendSms } from './phone.js';

// GoTrue's challenge expiry, as mfa.ts has it.
const CHALLENGE_TTL_S = 300;

export const mfaPhoneErrors = {
  enrollDisabled: () => authError(422, 'mfa_phone_enroll_not_enabled', 'MFA enroll is disabled for Phone'),
  verifyDisabled: () => authError(422, 'mfa_phone_verify_not_enabled', 'MFA verification is disabled for Phone'),
  verifiedExists: () =>
    authError(
      422,
      'mfa_verified_factor_exists',
      'A verified phone factor already exists, unenroll the existing factor to continue',
    ),
  wrongCode: () => authError(422, 'mfa_verification_failed', 'Invalid MFA Phone code entered'),
  sendFailed: () => authError(500, 'unexpected_failure', 'error sending message'),
};

/** POST /factors with factor_type phone (mfa.ts has read the caller's token and the body). */
export async function enrollPhoneFactor(
  ctx: AuthContext,
  c: Context,
  body: { friendly_name?: string | undefined; phone?: string | undefined },
) {
  if (!ctx.config.auth.sms.mfa.enroll) throw mfaPhoneErrors.enrollDisabled();
  if (!body.phone) throw errors.validation('Phone number required to enroll Phone factor');
  const phone = requirePhone(body.phone);
  const name = body.friendly_name ?? '';
  const id = await ctx.db.transaction(async (tx) => {
    const caller = await requireCaller(ctx, c, tx, true);
    const { user } = caller;
    const same = await tx.query<{ status: string }>(
      `select status from auth.mfa_factors where user_id = $1 and factor_type = 'phone' and phone = $2`,
      [user.id, phone],
    );
    if (same.rows.some((f) => f.status === 'verified')) throw mfaPhoneErrors.verifiedExists();
    // As on GoTrue, an unverified factor of this number goes first (its name is free again); those
    // of other numbers stay, and count against max_enrolled_factors.
    await tx.query(
      `delete from auth.mfa_factors where user_id = $1 and factor_type = 'phone' and phone = $2 and status = 'unverified'`,
      [user.id, phone],
    );
    await checkNewFactor(ctx, tx, caller, name, { type: 'phone', phone });
    const factorId = crypto.randomUUID();
    await tx.query(
      `insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, phone) values ($1, $2, $3, 'phone', 'unverified', $4)`,
      [factorId, user.id, name, phone],
    );
    return factorId;
  });
  return respondJson(c, { id, type: 'phone', friendly_name: name, phone: body.phone });
}

interface PhoneFactorRow {
  id: string;
  phone: string | null;
  wait: number;
  /** last_challenged_at before this challenge, as text (microseconds kept). */
  previous: string | null;
}

/** Whether the factor the request names is a phone factor of the caller (then challenge goes here). */
export async function isPhoneFactor(ctx: AuthContext, c: Context): Promise<boolean> {
  const claims = await callerClaims(ctx, c);
  const id = c.req.param('id') ?? '';
  if (typeof claims.sub !== 'string' || !/^[0-9a-f-]{36}$/i.test(id)) return false;
  const found = await ctx.db.transaction((tx) =>
    tx.query(`select 1 from auth.mfa_factors where id = $1 and user_id = $2 and factor_type = 'phone'`, [
      id,
      claims.sub,
    ]),
  );
  return (found.rowCount ?? 0) > 0;
}

const challengeBody = z.object({ channel: z.string().max(32).optional() });

/**
 * POST /factors/{id}/challenge for a phone factor. Before anything is texted, one transaction
 * claims the factor's slot (last_challenged_at, which spaces challenges
 * AUTH_MFA_PHONE_MAX_FREQUENCY apart; the row lock makes concurrent challenges wait and then see
 * it) and charges the server's hourly text budget. As on GoTrue, the challenge is written after
 * the send, so a failed send leaves none, and gives the slot back.
 */
export async function challengePhoneFactor(ctx: AuthContext, limits: AuthLimits, c: Context) {
  const body = await readJson(c, challengeBody, codes);
  const mfa = ctx.config.auth.sms.mfa;
  const client = ctx.client(c);
  const factor = await ctx.db.transaction(async (tx) => {
    const { user } = await requireCaller(ctx, c, tx);
    const row = (
      await tx.query<PhoneFactorRow>(
        `select id, phone, last_challenged_at::text as previous,
           coalesce(ceil(extract(epoch from last_challenged_at + make_interval(secs => $3) - now()))::int, 0) as wait
         from auth.mfa_factors where id = $1 and user_id = $2 and factor_type = 'phone' for update`,
        [c.req.param('id'), user.id, mfa.maxFrequency],
      )
    ).rows[0];
    if (!row?.phone) throw errors.mfaFactorNotFound();
    if (!mfa.verify) throw mfaPhoneErrors.verifyDisabled();
    const channel = parseChannel(ctx, body.channel);
    if (mfa.maxFrequency > 0 && row.wait > 0) throw errors.smsTooFrequent(row.wait);
    if (!ctx.sms && !ctx.hooks.enabled('sendSms')) throw errors.noSmsProvider();
    await ctx.limit(limits.smsSent, 'server', errors.smsRateLimited);
    const claimed = (
      await tx.query<{ at: string }>(
        'update auth.mfa_factors set last_challenged_at = now() where id = $1 returning last_challenged_at::text as at',
        [row.id],
      )
    ).rows[0];
    return { ...row, user, channel, claimed: claimed?.at ?? null };
  });
  const channel = factor.channel;
  const phone = factor.phone ?? '';
  const code = randomCode(mfa.otpLength);
  try {
    await sendSms(
      ctx,
      { to: phone, body: renderSms(mfa.template, code), channel, code },
      { user: factor.user, smsType: 'mfa' },
    );
  } catch (err) {
    ctx.log.error({ err, provider: ctx.sms?.name }, 'sending an MFA text message failed');
    // Nothing went out: the slot is given back, unless a later challenge has taken it since.
    await ctx.db
      .transaction((tx) =>
        tx.query(
          'update auth.mfa_factors set last_challenged_at = $2::timestamptz where id = $1 and last_challenged_at = $3::timestamptz',
          [factor.id, factor.previous, factor.claimed],
        ),
      )
      .catch((undoErr: unknown) => ctx.log.error({ err: undoErr }, 'freeing an unsent MFA challenge failed'));
    if ((err as { status?: number }).status === 500) throw err;
    throw mfaPhoneErrors.sendFailed();
  }
  const id = crypto.randomUUID();
  const created = await ctx.db.transaction(async (tx) => {
    return (
      await tx.query<{ created_at: Date }>(
        'insert into auth.mfa_challenges (id, factor_id, ip_address, otp_code) values ($1, $2, $3, $4) returning created_at',
        [id, factor.id, client.ip ?? null, codeHash(phone, code)],
      )
    ).rows[0];
  });
  const expiresAt = Math.floor((created?.created_at.getTime() ?? Date.now()) / 1000) + CHALLENGE_TTL_S;
  return respondJson(c, { id, type: 'phone', expires_at: expiresAt });
}

/**
 * Whether `code` answers a phone factor's challenge: Twilio Verify checks its own codes; otherwise
 * the challenge's stored hash. Called by mfa.ts's verify within its transaction.
 */
export async function phoneFactorCodeIsRight(
  ctx: AuthContext,
  _tx: Tx,
  factor: { phone: string | null },
  storedHash: string | null,
  code: string,
): Promise<boolean> {
  if (!ctx.config.auth.sms.mfa.verify) throw mfaPhoneErrors.verifyDisabled();
  const phone = factor.phone ?? '';
  if (ctx.sms?.checkCode) return ctx.sms.checkCode(phone, code).catch(() => false);
  return storedHash !== null && codeMatches(storedHash, phone, code);
}
