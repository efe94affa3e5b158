/**
 * Reauthentication (GoTrue's reauthenticate.go): GET /reauthenticate mails a signed-in user a
 * six-digit nonce (texts it to a user with only a phone number), and with AUTH_SECURE_PASSWORD_CHANGE on, `updateUser({ password, nonce })`
 * needs it unless the session signed in within the last 24 hours. The nonce is kept as a hash in
 * auth.users.reauthentication_token, lives AUTH_OTP_EXPIRY seconds and works once.
 */
import type { Context } from 'hono';
import type { Tx } from '../db/index.js';
import { render } from '../platform/mailer/templates.js';
import { respondJson } from '../platform/json.js';
import { requireCaller, type AuthContext, type Caller } from './context.js';
import { randomCode, safeEqual, sha256 } from './crypto.js';
import { errors } from './errors.js';
import type { AuthLimits } from './limits.js';
import { chargeMailBudgets } from './mail-budget.js';
import { renderSms, sendSms } from './phone.js';
import type { SmsMessage } from '../platform/sms/index.js';
import type { Mail } from '../platform/mailer/index.js';
import type { UserRow } from './users.js';
import { ApiError } from '../errors.js';

const RECENT_SIGN_IN_S = 24 * 3600;

type Nonce = { readonly sms: SmsMessage; readonly user: UserRow; readonly hash: string } | { readonly mail: Mail };

const nonceHash = (email: string, nonce: string) => sha256(`reauthentication:${email}:${nonce}`);

export async function reauthenticate(ctx: AuthContext, limits: AuthLimits, c: Context) {
  const message = await ctx.db.transaction(async (tx): Promise<Nonce> => {
    const { user } = await requireCaller(ctx, c, tx, true);
    if (!user.email && !user.phone)
      throw errors.validation('Reauthentication requires the user to have an email or a phone number');
    if (user.email && !user.email_confirmed_at) throw errors.emailNotConfirmedForReauthentication();
    const nonce = randomCode();
    // A user with an email gets the nonce by mail; a phone-only user by text, as on GoTrue.
    if (user.email) {
      await chargeMailBudgets(ctx, limits, { email: user.email, requester: { ip: ctx.client(c).ip }, reserved: true });
    } else {
      if (!ctx.config.auth.sms.enabled) throw errors.phoneDisabled();
      if (!user.phone_confirmed_at) throw errors.phoneNotConfirmedForbidden();
      // One text per AUTH_SMS_MAX_FREQUENCY per user, from the last one (GoTrue's sendPhoneConfirmation);
      // the user row is locked, so concurrent requests see each other's sending.
      const wait = await secondsBeforeNextNonce(tx, user.id, ctx.config.auth.sms.maxFrequency);
      if (wait > 0) throw errors.smsTooFrequent(wait);
      await ctx.limit(limits.smsSent, 'server', errors.smsRateLimited);
    }
    const address = user.email ?? user.phone ?? '';
    const hash = nonceHash(address, nonce);
    await tx.query(
      'update auth.users set reauthentication_token = $2, reauthentication_sent_at = now() where id = $1',
      [user.id, hash],
    );
    if (!user.email) {
      const body = renderSms(ctx.config.auth.sms.template, nonce);
      return { sms: { to: address, body, channel: 'sms' as const, code: nonce }, user, hash };
    }
    const rendered = render(ctx.templates, 'reauthentication', {
      Token: nonce,
      SiteURL: ctx.config.auth.siteUrl,
      Email: user.email,
      Data: user.raw_user_meta_data,
    });
    return { mail: { to: user.email, kind: 'reauthentication', ...rendered } };
  });
  if ('sms' in message) {
    try {
      await sendSms(ctx, message.sms, { user: message.user });
    } catch (err) {
      ctx.log.error({ err }, 'sending a reauthentication text failed');
      // The nonce never went out: it goes, and so does the wait it started (unless a newer one replaced it).
      await ctx.db
        .transaction((tx) =>
          tx.query(
            `update auth.users set reauthentication_token = '', reauthentication_sent_at = null
             where id = $1 and reauthentication_token = $2`,
            [message.user.id, message.hash],
          ),
        )
        .catch((undoErr: unknown) =>
          ctx.log.error({ err: undoErr }, 'removing an unsent reauthentication nonce failed'),
        );
      if (err instanceof ApiError) throw err;
      throw errors.smsSendFailed('reauthentication', err instanceof Error ? err.message : 'unexpected error');
    }
    return respondJson(c, {});
  }
  try {
    await ctx.mailer.send(message.mail);
  } catch (err) {
    ctx.log.error({ err, kind: message.mail.kind }, 'sending an auth email failed');
    throw errors.mailFailed(message.mail.kind);
  }
  return respondJson(c, {});
}

/** Seconds until the user may be texted another nonce; 0 when now (or the interval is off). */
async function secondsBeforeNextNonce(tx: Tx, userId: string, maxFrequency: number): Promise<number> {
  if (maxFrequency <= 0) return 0;
  const row = (
    await tx.query<{ wait: number | null }>(
      `select ceil(extract(epoch from reauthentication_sent_at + make_interval(secs => $2) - now()))::int as wait
       from auth.users where id = $1`,
      [userId, maxFrequency],
    )
  ).rows[0];
  return Math.max(row?.wait ?? 0, 0);
}

/**
 * Within putUser's transaction, before a password changes: with secure password change on, a
 * session older than a day needs the mailed nonce, which is spent here.
 */
export async function requireReauthentication(
  ctx: AuthContext,
  limits: AuthLimits,
  c: Context,
  tx: Tx,
  caller: Caller,
  nonce: string | undefined,
): Promise<void> {
  if (!ctx.config.auth.securePasswordChange) return;
  const session = (
    await tx.query<{ recent: boolean }>(
      'select created_at > now() - make_interval(secs => $2) as recent from auth.sessions where id = $1',
      [caller.session.id, RECENT_SIGN_IN_S],
    )
  ).rows[0];
  if (session?.recent) return;
  if (!nonce) throw errors.reauthenticationNeeded();
  // Six digits: guessing is bounded by the verification budget of the client address.
  await ctx.limit(limits.verify, ctx.client(c).ip);
  const row = (
    await tx.query<{ token: string | null; fresh: boolean }>(
      `select reauthentication_token as token, reauthentication_sent_at > now() - make_interval(secs => $2) as fresh
       from auth.users where id = $1`,
      [caller.user.id, ctx.config.auth.otpExpiry],
    )
  ).rows[0];
  const address = caller.user.email ?? caller.user.phone ?? '';
  if (!row?.token || !row.fresh || address === '' || !safeEqual(row.token, nonceHash(address, nonce.trim())))
    throw errors.reauthenticationNotValid();
  await tx.query(`update auth.users set reauthentication_token = '', reauthentication_sent_at = null where id = $1`, [
    caller.user.id,
  ]);
}
