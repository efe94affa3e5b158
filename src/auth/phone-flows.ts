/**
 * The phone variants of sign-up, sign-in with a code, resend and phone change, with GoTrue's
 * order of checks and answers (internal/api/signup.go, otp.go, resend.go, user.go).
 */
import type { Context } from 'hono';
import type { Tx } from '../db/index.js';
import { respondJson } from '../platform/json.js';
import type { AuthContext } from './context.js';
import { hashPassword, verifyPassword } from './crypto.js';
import { errors } from './errors.js';
import type { AuthLimits } from './limits.js';
import { confirmPhone, findUserByPhone, insertPhoneUser } from './phone-users.js';
import { deliverSms, forgetNewPhoneUser, parseChannel, prepareSms, requirePhone, type PreparedSms } from './phone.js';
import { startSession } from './sessions.js';
import { findUserByEmail, userJson, type UserRow } from './users.js';
import { checkPassword, requireEmail } from './validate.js';

export interface PhoneSignupBody {
  readonly email?: string | undefined;
  readonly phone?: string | undefined;
  readonly password?: string | undefined;
  readonly data?: Record<string, unknown> | undefined;
  readonly channel?: string | undefined;
  readonly code_challenge?: string | null | undefined;
}

/** signUp({ phone, password }): a session at once (autoconfirm) or a texted confirmation code. */
export async function signupWithPhone(ctx: AuthContext, limits: AuthLimits, c: Context, body: PhoneSignupBody) {
  const sms = ctx.config.auth.sms;
  if (ctx.config.auth.disableSignup) throw errors.signupDisabled();
  const password = checkPassword(ctx, body.password);
  if (body.email) throw errors.validation('Only an email address or phone number should be provided on signup.');
  const channel = parseChannel(ctx, body.channel);
  if (body.code_challenge) throw errors.validation('PKCE not supported for phone signups');
  if (!sms.enabled) throw errors.phoneDisabledAs(400, 'Phone signups are disabled');
  const phone = requirePhone(body.phone);
  const client = ctx.client(c);
  await ctx.limit(limits.signIn, client.ip);
  const passwordHash = await hashPassword(password);
  // Hashing is slow: whether a pending account already has this very password (the same person
  // signing up twice) is found out before the transaction.
  const pending = await ctx.db.transaction((tx) => findUserByPhone(tx, phone));
  const samePassword =
    pending !== undefined &&
    !pending.phone_confirmed_at &&
    (await verifyPassword(pending.encrypted_password, password));
  const outcome = await ctx.db.transaction(async (tx) => {
    const existing = await findUserByPhone(tx, phone, true);
    if (existing?.phone_confirmed_at) {
      if (!sms.confirmation) throw errors.userExists();
      // As for email: with confirmation on, a taken number is not revealed.
      return { kind: 'fake' as const };
    }
    // An unconfirmed number signing up again keeps the first password and metadata (as GoTrue, it
    // does not trust the claim) and gets a new code. Unless it chose that same password, the code
    // is marked: whoever confirms with it must not inherit a password someone else chose, so
    // confirming drops it (phone-verify.ts).
    const user =
      existing ??
      (await insertPhoneUser(tx, { phone, passwordHash, userMetadata: body.data ?? {}, confirmed: !sms.confirmation }));
    if (!sms.confirmation) {
      const confirmed = existing ? await confirmPhone(tx, existing, phone) : user;
      return { kind: 'session' as const, session: await startSession(tx, ctx.settings, confirmed, 'password', client) };
    }
    const unchanged = existing?.id === pending?.id && existing?.encrypted_password === pending?.encrypted_password;
    const dropsPassword = existing !== undefined && !(samePassword && unchanged);
    const prepared = await prepareSms(ctx, limits, tx, { user, type: 'sms', phone, channel, dropsPassword });
    return { kind: 'confirm' as const, prepared, created: !existing };
  });
  if (outcome.kind === 'session') return respondJson(c, outcome.session);
  if (outcome.kind === 'fake') return respondJson(c, fakePhoneUser(phone, body.data ?? {}));
  await deliverSms(
    ctx,
    outcome.prepared,
    outcome.created ? forgetNewPhoneUser(ctx, outcome.prepared.user.id) : undefined,
  );
  return respondJson(c, await ctx.db.transaction((tx) => userJson(tx, outcome.prepared.user)));
}

/** GoTrue's sanitizeUser for a number that is already registered: a user that does not exist. */
function fakePhoneUser(phone: string, data: Record<string, unknown>) {
  const now = new Date().toISOString();
  return {
    id: crypto.randomUUID(),
    aud: 'authenticated',
    role: '',
    email: '',
    phone,
    confirmation_sent_at: now,
    app_metadata: { provider: 'phone', providers: ['phone'] },
    user_metadata: data,
    identities: [],
    created_at: now,
    updated_at: now,
    is_anonymous: false,
  };
}

export interface PhoneOtpBody {
  readonly phone?: string | undefined;
  readonly create_user?: boolean | undefined;
  readonly data?: Record<string, unknown> | undefined;
  readonly channel?: string | undefined;
}

/** signInWithOtp({ phone }): a code to a known number; an unknown one signs up first (GoTrue's SmsOtp). */
export async function otpWithPhone(ctx: AuthContext, limits: AuthLimits, c: Context, body: PhoneOtpBody) {
  const sms = ctx.config.auth.sms;
  if (body.create_user === false) {
    // GoTrue's shouldCreateUser looks the number up before anything else.
    const phone = requirePhone(body.phone);
    const known = await ctx.db.transaction((tx) => findUserByPhone(tx, phone));
    if (!known) throw errors.otpSignupDisabled();
  }
  if (!sms.enabled) throw errors.phoneDisabledAs(400, 'Unsupported phone provider');
  const phone = requirePhone(body.phone);
  const channel = parseChannel(ctx, body.channel);
  const { prepared, created, signup } = await ctx.db.transaction(async (tx) => {
    const existing = await findUserByPhone(tx, phone, true);
    if (existing?.phone_confirmed_at) {
      const sent = await prepareSms(ctx, limits, tx, { user: existing, type: 'sms', phone, channel });
      return { prepared: sent, created: false, signup: false };
    }
    if (ctx.config.auth.disableSignup) throw errors.signupDisabled();
    let user =
      existing ??
      (await insertPhoneUser(tx, {
        phone,
        passwordHash: null,
        userMetadata: body.data ?? {},
        confirmed: !sms.confirmation,
      }));
    if (!sms.confirmation && existing) user = await confirmPhone(tx, existing, phone);
    // A code asked for by number proves the number, not the password a pending sign-up chose.
    const dropsPassword = existing !== undefined;
    const sent = await prepareSms(ctx, limits, tx, { user, type: 'sms', phone, channel, dropsPassword });
    return { prepared: sent, created: !existing, signup: sms.confirmation };
  });
  const messageId = await deliverSms(ctx, prepared, created ? forgetNewPhoneUser(ctx, prepared.user.id) : undefined);
  // GoTrue answers a sign-up's confirmation text with {}, a sign-in code with its message id.
  return respondJson(c, signup ? {} : { message_id: messageId });
}

export interface PhoneResendBody {
  readonly type: 'sms' | 'phone_change';
  readonly phone?: string | undefined;
  readonly email?: string | undefined;
}

/** resend({ type: 'sms' | 'phone_change', phone }); unknown numbers get the same empty answer. */
export async function resendWithPhone(ctx: AuthContext, limits: AuthLimits, c: Context, body: PhoneResendBody) {
  if (!body.phone && body.type === 'sms') throw errors.validation('Type provided requires a phone number');
  if (body.phone && body.email) throw errors.validation('Only an email address or phone number should be provided.');
  if (!body.phone && !body.email) throw errors.validation('Missing email address or phone number');
  let lookup: (tx: Tx) => Promise<UserRow | undefined>;
  let phone: string | undefined;
  if (body.phone) {
    if (!ctx.config.auth.sms.enabled) throw errors.phoneDisabledAs(400, 'Phone logins are disabled');
    const number = requirePhone(body.phone);
    phone = number;
    lookup = (tx) => findUserByPhone(tx, number, true);
  } else {
    const email = requireEmail(body.email);
    lookup = (tx) => findUserByEmail(tx, email, true);
  }
  const prepared = await ctx.db.transaction(async (tx) => {
    const user = await lookup(tx);
    if (!user) return undefined;
    if (body.type === 'sms') {
      if (user.phone_confirmed_at || phone === undefined) return undefined;
      return prepareSms(ctx, limits, tx, { user, type: 'sms', phone, channel: 'sms' });
    }
    if (!user.phone_change) return undefined;
    return prepareSms(ctx, limits, tx, { user, type: 'phone_change', phone: user.phone_change, channel: 'sms' });
  });
  if (!prepared) return respondJson(c, {});
  return respondJson(c, { message_id: await deliverSms(ctx, prepared) });
}

/**
 * updateUser({ phone }) within the caller's transaction: with confirmation off the number changes
 * at once (GoTrue's autoconfirm), otherwise a phone_change code goes to the new number.
 */
export async function changePhone(
  ctx: AuthContext,
  limits: AuthLimits,
  tx: Tx,
  user: UserRow,
  request: { phone: string; channel: string | undefined },
): Promise<{ user: UserRow; prepared: PreparedSms | undefined }> {
  const channel = parseChannel(ctx, request.channel);
  const taken = await findUserByPhone(tx, request.phone);
  if (taken && taken.id !== user.id) throw errors.phoneExists();
  if (!ctx.config.auth.sms.confirmation)
    return { user: await confirmPhone(tx, user, request.phone), prepared: undefined };
  const prepared = await prepareSms(ctx, limits, tx, { user, type: 'phone_change', phone: request.phone, channel });
  return { user: prepared.user, prepared };
}
