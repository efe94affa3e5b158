/**
 * Reauthentication (GoTrue's reauthenticate.go): GET /reauthenticate mails a signed-in user a
 * six-digit nonce, and with AUTH_SECURE_PASSWORD_CHANGE on, `updateUser({ password, nonce })`
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

const RECENT_SIGN_IN_S = 24 * 3600;

const nonceHash = (email: string, nonce: string) => sha256(`reauthentication:${email}:${nonce}`);

export async function reauthenticate(ctx: AuthContext, limits: AuthLimits, c: Context) {
  const mail = await ctx.db.transaction(async (tx) => {
    const { user } = await requireCaller(ctx, c, tx, true);
    if (!user.email && !user.phone)
      throw errors.validation('Reauthentication requires the user to have an email or a phone number');
    if (user.email && !user.email_confirmed_at) throw errors.emailNotConfirmedForReauthentication();
    // Phone-only users get their nonce by SMS on GoTrue; Trellis sends no SMS here yet.
    if (!user.email) throw errors.phoneDisabled();
    await chargeMailBudgets(ctx, limits, { email: user.email, requester: { ip: ctx.client(c).ip }, reserved: true });
    const nonce = randomCode();
    await tx.query(
      'update auth.users set reauthentication_token = $2, reauthentication_sent_at = now() where id = $1',
      [user.id, nonceHash(user.email, nonce)],
    );
    const rendered = render(ctx.templates, 'reauthentication', {
      Token: nonce,
      SiteURL: ctx.config.auth.siteUrl,
      Email: user.email,
      Data: user.raw_user_meta_data,
    });
    return { to: user.email, kind: 'reauthentication', ...rendered };
  });
  try {
    await ctx.mailer.send(mail);
  } catch (err) {
    ctx.log.error({ err, kind: mail.kind }, 'sending an auth email failed');
    throw errors.mailFailed(mail.kind);
  }
  return respondJson(c, {});
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
  const email = caller.user.email ?? '';
  if (!row?.token || !row.fresh || email === '' || !safeEqual(row.token, nonceHash(email, nonce.trim())))
    throw errors.reauthenticationNotValid();
  await tx.query(`update auth.users set reauthentication_token = '', reauthentication_sent_at = null where id = $1`, [
    caller.user.id,
  ]);
}
