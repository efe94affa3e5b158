/**
 * Emailed links and codes: sign-up confirmation, magic links and codes, recovery, email change and
 * invites. Each mail carries a link token (for `/verify?token=…` and `verifyOtp({ token_hash })`)
 * and a 6-digit code (for `verifyOtp({ email, token })`); both are stored as SHA-256 hashes, the
 * newest of a type replaces the previous one, and a verified token is deleted: a link works once.
 */
import type { Context } from 'hono';
import { z } from 'zod';
import type { Tx } from '../db/index.js';
import { ApiError } from '../errors.js';
import { readJson } from '../platform/body.js';
import type { Mail } from '../platform/mailer/index.js';
import { render, type MailKind } from '../platform/mailer/templates.js';
import { metadata, requireEmail } from './validate.js';
import { safeRedirect, type AuthContext } from './context.js';
import { randomCode, randomToken, sha256 } from './crypto.js';
import { codeHash, codeMatches, countWrongCode } from './otp-codes.js';
import { codes, errors } from './errors.js';
import type { AuthLimits } from './limits.js';
import { sendEmailHook, type EmailData } from './hooks-calls.js';
import { chargeMailBudgets, type MailRequester } from './mail-budget.js';
import { createFlowState, issueAuthCode, parseChallenge, PKCE_PREFIX, pkceFields, type PkceChallenge } from './pkce.js';
import { startSession, type Client, type SessionResponse } from './sessions.js';
import {
  findUserByEmail,
  findUserById,
  insertEmailIdentity,
  insertUser,
  isBanned,
  updateUser,
  userJson,
  type UserRow,
} from './users.js';
import { respondJson } from '../platform/json.js';
import { otpWithPhone, resendWithPhone } from './phone-flows.js';
import { verifyPhoneCode } from './phone-verify.js';

export type LinkType = 'signup' | 'magiclink' | 'recovery' | 'email_change' | 'invite';

const MAIL_KIND: Record<LinkType, MailKind> = {
  signup: 'confirmation',
  magiclink: 'magic_link',
  recovery: 'recovery',
  email_change: 'email_change',
  invite: 'invite',
};
const SENT_COLUMN: Record<LinkType, string> = {
  signup: 'confirmation_sent_at',
  magiclink: 'recovery_sent_at',
  recovery: 'recovery_sent_at',
  email_change: 'email_change_sent_at',
  invite: 'invited_at',
};

export interface IssuedLink {
  readonly code: string;
  readonly linkToken: string;
  readonly actionLink: string;
  readonly redirectTo: string;
}

/** Creates the one-time token for `email` (the new address for an email change). */
export async function issueLink(
  ctx: AuthContext,
  tx: Tx,
  user: UserRow,
  type: LinkType,
  email: string,
  redirectTo: string | undefined,
  dropsPassword = false,
  pkce?: PkceChallenge,
): Promise<IssuedLink> {
  const code = randomCode();
  // A PKCE flow's token says so (GoTrue's prefix), so that following it hands out an auth code.
  const linkToken = pkce ? `${PKCE_PREFIX}${randomToken()}` : randomToken();
  if (pkce) await createFlowState(tx, user.id, AMR[type], pkce, ctx.config.auth.otpExpiry);
  const redirect = safeRedirect(ctx, redirectTo);
  await tx.query(
    `insert into auth.one_time_tokens (user_id, token_type, code_hash, link_hash, relates_to, redirect_to, expires_at, drops_password)
     values ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7), $8)
     on conflict (user_id, token_type) do update set code_hash = excluded.code_hash, link_hash = excluded.link_hash,
       relates_to = excluded.relates_to, redirect_to = excluded.redirect_to, created_at = now(), expires_at = excluded.expires_at, failed_attempts = 0,
       drops_password = auth.one_time_tokens.drops_password or excluded.drops_password`,
    [
      user.id,
      type,
      codeHash(email, code),
      sha256(linkToken),
      email,
      redirect,
      ctx.config.auth.otpExpiry,
      dropsPassword,
    ],
  );
  if (type === 'email_change') await updateUser(tx, user.id, 'email_change = $2', [email]);
  const query = new URLSearchParams({ token: linkToken, type, redirect_to: redirect });
  return { code, linkToken, redirectTo: redirect, actionLink: `${ctx.config.publicUrl}/auth/v1/verify?${query}` };
}

export interface PreparedMail {
  /** The user with the link's *_sent_at column set. */
  readonly user: UserRow;
  readonly mail: Mail;
  /** With the send_email hook on: what it is handed instead of the mail going to the mailer. */
  readonly hook?: { readonly user: Record<string, unknown>; readonly emailData: EmailData } | undefined;
}

/** A mail with a link for `user`: what it is for, where its link leads, who asked, and its PKCE challenge if any. */
export interface MailRequest {
  readonly user: UserRow;
  readonly type: LinkType;
  readonly email: string;
  readonly redirectTo: string | undefined;
  readonly requester: MailRequester;
  readonly dropsPassword?: boolean;
  readonly pkce?: PkceChallenge | undefined;
}

/**
 * Within `tx`: counts the mail against its budgets (mail-budget.ts), issues its link and renders
 * it. Over a budget, the error rolls back whatever `tx` did before (such as creating the user the
 * mail was for). The mail is sent after commit, by `deliver`.
 */
export async function prepareMail(
  ctx: AuthContext,
  limits: AuthLimits,
  tx: Tx,
  request: MailRequest,
): Promise<PreparedMail> {
  const { user, type, email } = request;
  // Recovery and sign-in mails of users who proved their address may use the reserved budget.
  const reserved = (type === 'recovery' || type === 'magiclink') && user.email_confirmed_at !== null;
  await chargeMailBudgets(ctx, limits, { email, requester: request.requester, reserved });
  const issued = await issueLink(ctx, tx, user, type, email, request.redirectTo, request.dropsPassword, request.pkce);
  const updated = await updateUser(tx, user.id, `${SENT_COLUMN[type]} = now()`, []);
  const rendered = render(ctx.templates, MAIL_KIND[type], {
    ConfirmationURL: issued.actionLink,
    Token: issued.code,
    TokenHash: issued.linkToken,
    SiteURL: ctx.config.auth.siteUrl,
    Email: user.email ?? email,
    NewEmail: type === 'email_change' ? email : undefined,
    RedirectTo: issued.redirectTo,
    Data: user.raw_user_meta_data,
  });
  // GoTrue's email_data: for an email change (mailed to the new address only) the new address's code.
  const hook = ctx.hooks.enabled('sendEmail')
    ? {
        user: await userJson(tx, updated),
        emailData: {
          token: issued.code,
          token_hash: issued.linkToken,
          redirect_to: issued.redirectTo,
          email_action_type: type,
          site_url: `${ctx.config.publicUrl}/auth/v1`,
          token_new: '',
          token_hash_new: '',
        },
      }
    : undefined;
  return { user: updated, mail: { to: email, kind: MAIL_KIND[type], ...rendered }, hook };
}

/**
 * Hands a prepared mail to the mailer, outside any transaction (an SMTP round trip must not hold a
 * database connection). When the mailer fails, `undo` removes what was made only for this mail.
 */
export async function deliver(ctx: AuthContext, prepared: PreparedMail, undo?: () => Promise<void>): Promise<UserRow> {
  try {
    if (prepared.hook) await sendEmailHook(ctx, prepared.hook.user, prepared.hook.emailData);
    else await ctx.mailer.send(prepared.mail);
  } catch (err) {
    ctx.log.error({ err, kind: prepared.mail.kind }, 'sending an auth email failed');
    if (undo)
      await undo().catch((undoErr: unknown) =>
        ctx.log.error({ err: undoErr }, 'removing the user of an unsent email failed'),
      );
    // A failing hook answers its own error, as on GoTrue.
    throw prepared.hook && err instanceof ApiError ? err : errors.mailFailed(prepared.mail.kind);
  }
  return prepared.user;
}

/** An `undo` for `deliver`: the user created for the mail goes, so signing up again starts clean. */
export function forgetNewUser(ctx: AuthContext, userId: string): () => Promise<void> {
  return async () => {
    await ctx.db.transaction((tx) =>
      tx.query('delete from auth.users where id = $1 and email_confirmed_at is null', [userId]),
    );
  };
}

/** Issues a link and mails it, within the server's hourly email budget. */
export async function sendEmailLink(
  ctx: AuthContext,
  limits: AuthLimits,
  request: Omit<MailRequest, 'dropsPassword'>,
): Promise<UserRow> {
  return deliver(ctx, await ctx.db.transaction((tx) => prepareMail(ctx, limits, tx, request)));
}

const emailBody = z.object({ email: z.string().max(320).optional(), ...pkceFields });

export async function recover(ctx: AuthContext, limits: AuthLimits, c: Context) {
  const body = await readJson(c, emailBody, codes);
  const email = requireEmail(body.email);
  const pkce = parseChallenge(body);
  const user = await ctx.db.transaction((tx) => findUserByEmail(tx, email));
  // The answer is the same whether or not the address is registered.
  const requester = { ip: ctx.client(c).ip };
  if (user)
    await sendEmailLink(ctx, limits, {
      user,
      type: 'recovery',
      email,
      redirectTo: c.req.query('redirect_to'),
      requester,
      pkce,
    });
  return respondJson(c, {});
}

const otpBody = z.object({
  email: z.string().max(320).optional(),
  phone: z.string().max(64).optional(),
  create_user: z.boolean().optional(),
  data: metadata.optional(),
  channel: z.string().max(32).optional(),
  ...pkceFields,
});

export async function otp(ctx: AuthContext, limits: AuthLimits, c: Context) {
  const body = await readJson(c, otpBody, codes);
  if (body.email && body.phone) throw errors.validation('Only an email address or phone number should be provided');
  if (body.email && body.channel) throw errors.validation('Channel should only be specified with Phone OTP');
  if (body.phone) return otpWithPhone(ctx, limits, c, body);
  const email = requireEmail(body.email);
  const pkce = parseChallenge(body);
  const redirectTo = c.req.query('redirect_to');
  const requester = { ip: ctx.client(c).ip };
  const { prepared, created } = await ctx.db.transaction(async (tx) => {
    const existing = await findUserByEmail(tx, email, true);
    if (existing?.email_confirmed_at) {
      return {
        prepared: await prepareMail(ctx, limits, tx, {
          user: existing,
          type: 'magiclink',
          email,
          redirectTo,
          requester,
          pkce,
        }),
        created: false,
      };
    }
    // An address that has not finished signing up gets the sign-up confirmation mail, as on
    // GoTrue; confirming it signs in. Without create_user that counts as a sign-up, refused.
    if (body.create_user === false) throw errors.otpSignupDisabled();
    if (existing) {
      const request = {
        user: existing,
        type: 'signup' as const,
        email,
        redirectTo,
        requester,
        dropsPassword: true,
        pkce,
      };
      return { prepared: await prepareMail(ctx, limits, tx, request), created: false };
    }
    if (ctx.config.auth.disableSignup) throw errors.signupDisabled();
    const user = await insertUser(tx, { email, passwordHash: null, userMetadata: body.data ?? {}, confirmed: false });
    return {
      prepared: await prepareMail(ctx, limits, tx, { user, type: 'signup', email, redirectTo, requester, pkce }),
      created: true,
    };
  });
  await deliver(ctx, prepared, created ? forgetNewUser(ctx, prepared.user.id) : undefined);
  return respondJson(c, {});
}

const resendBody = z.object({
  type: z.enum(['signup', 'email_change', 'sms', 'phone_change']),
  email: z.string().max(320).optional(),
  phone: z.string().max(64).optional(),
  ...pkceFields,
});

export async function resend(ctx: AuthContext, limits: AuthLimits, c: Context) {
  const body = await readJson(c, resendBody, codes);
  if (body.type === 'sms' || body.type === 'phone_change')
    return resendWithPhone(ctx, limits, c, { ...body, type: body.type });
  if (body.phone && body.email) throw errors.validation('Only an email address or phone number should be provided.');
  const email = requireEmail(body.email);
  const pkce = parseChallenge(body);
  const redirectTo = c.req.query('redirect_to');
  const requester = { ip: ctx.client(c).ip };
  if (body.type === 'signup') {
    const user = await ctx.db.transaction((tx) => findUserByEmail(tx, email));
    if (user && !user.email_confirmed_at)
      await sendEmailLink(ctx, limits, { user, type: 'signup', email, redirectTo, requester, pkce });
  } else {
    const user = await ctx.db.transaction(async (tx) => {
      const found = await tx.query<{ id: string }>(
        `select id from auth.users where (email = $1 or email_change = $1) and deleted_at is null order by email = $1 desc limit 1`,
        [email],
      );
      return found.rows[0] ? findUserById(tx, found.rows[0].id) : undefined;
    });
    if (user?.email_change)
      await sendEmailLink(ctx, limits, {
        user,
        type: 'email_change',
        email: user.email_change,
        redirectTo,
        requester,
        pkce,
      });
  }
  return respondJson(c, {});
}

const verifyTypes = ['signup', 'invite', 'magiclink', 'recovery', 'email_change', 'email'] as const;
type VerifyType = (typeof verifyTypes)[number];
const verifyBody = z.object({
  type: z.enum([...verifyTypes, 'sms', 'phone_change'], {
    error: 'type must be one of signup, invite, magiclink, recovery, email_change, email, sms, phone_change',
  }),
  token: z.string().max(512).optional(),
  token_hash: z.string().max(512).optional(),
  email: z.string().max(320).optional(),
  phone: z.string().max(64).optional(),
  redirect_to: z.string().max(2048).optional(),
});

/**
 * Which stored token types a requested verification type may consume. GoTrue keeps sign-up and
 * invite tokens as one kind ("confirmation") and magic-link and recovery tokens as another, and
 * `email` takes either; auth-js callers rely on that (verifyOtp type email for any emailed code).
 */
const ACCEPTS: Record<VerifyType, LinkType[]> = {
  signup: ['signup', 'invite'],
  invite: ['invite', 'signup'],
  magiclink: ['magiclink', 'recovery', 'signup'],
  recovery: ['recovery', 'magiclink'],
  email_change: ['email_change'],
  email: ['signup', 'invite', 'magiclink', 'recovery'],
};
const AMR: Record<LinkType, string> = {
  signup: 'email/signup',
  magiclink: 'magiclink',
  recovery: 'recovery',
  email_change: 'email_change',
  invite: 'invite',
};

interface TokenRow {
  id: string;
  user_id: string;
  token_type: LinkType;
  relates_to: string;
  code_hash: string;
  redirect_to: string | null;
  drops_password: boolean;
  expired: boolean;
}

const TOKEN_COLUMNS =
  't.id, t.user_id, t.token_type, t.relates_to, t.code_hash, t.redirect_to, t.drops_password, t.expires_at < now() as expired';

interface TokenLookup {
  readonly row: TokenRow | undefined;
  /** The tokens a wrong code was tried against: those of the address the code came with. */
  readonly tried: readonly TokenRow[];
}

async function findToken(
  tx: Tx,
  type: VerifyType,
  lookup: { linkToken: string } | { email: string; code: string },
): Promise<TokenLookup> {
  if ('linkToken' in lookup) {
    // A link token is 32 random bytes: a wrong one names no token, so there is nothing to count
    // it against (the per-IP verify limit bounds the tries).
    const result = await tx.query<TokenRow>(
      `select ${TOKEN_COLUMNS} from auth.one_time_tokens t where t.link_hash = $1 and t.token_type = any($2) for update`,
      [sha256(lookup.linkToken), ACCEPTS[type]],
    );
    return { row: result.rows[0], tried: [] };
  }
  // A code is hashed with the address it was sent to. For an email change that is the new address,
  // but GoTrue also takes the user's current one, so candidates come from both.
  const candidates = await tx.query<TokenRow>(
    `select ${TOKEN_COLUMNS} from auth.one_time_tokens t
     where t.token_type = any($2)
       and (t.relates_to = $1 or t.user_id in (select id from auth.users where email = $1 and deleted_at is null))
     for update of t`,
    [lookup.email, ACCEPTS[type]],
  );
  const row = candidates.rows.find((r) => codeMatches(r.code_hash, r.relates_to, lookup.code));
  return { row, tried: row ? [] : candidates.rows };
}

/** Consumes a token and signs the user in; the same error for wrong, used and expired tokens. */
async function verifyToken(
  ctx: AuthContext,
  type: VerifyType,
  lookup: { linkToken: string } | { email: string; code: string },
  client: Client,
  maxAttempts: number,
  handOut: 'session' | 'code' = 'session',
): Promise<{ session: SessionResponse; redirectTo: string | null } | { authCode: string; redirectTo: string | null }> {
  const invalid = 'linkToken' in lookup ? errors.linkExpired : errors.otpExpired;
  const outcome = await ctx.db.transaction(async (tx) => {
    const { row, tried } = await findToken(tx, type, lookup);
    if (!row) {
      // Returned, not thrown, so that the count of wrong tries commits.
      await countWrongCode(
        tx,
        tried.map((t) => t.id),
        maxAttempts,
      );
      return undefined;
    }
    if (row.expired) throw invalid();
    let user = await findUserById(tx, row.user_id, true);
    if (!user) throw invalid();
    if (isBanned(user)) throw errors.userBannedForbidden();
    await tx.query('delete from auth.one_time_tokens where id = $1', [row.id]);
    if (row.token_type === 'email_change') {
      const taken = await findUserByEmail(tx, row.relates_to);
      if (taken && taken.id !== user.id) throw errors.emailExists();
      user = await updateUser(
        tx,
        user.id,
        `email = $2, email_change = '', email_confirmed_at = coalesce(email_confirmed_at, now())`,
        [row.relates_to],
      );
      await tx.query(`delete from auth.identities where user_id = $1 and provider = 'email'`, [user.id]);
      await insertEmailIdentity(tx, user.id, row.relates_to, true);
      if (user.is_anonymous) {
        // A confirmed email makes an anonymous user a permanent one (GoTrue's emailChangeVerify).
        user = await updateUser(
          tx,
          user.id,
          `is_anonymous = false, raw_app_meta_data = raw_app_meta_data || '{"provider":"email","providers":["email"]}'`,
          [],
        );
      }
    } else if (!user.email_confirmed_at) {
      // Whoever chose the password of an unconfirmed account never proved they own the address.
      // When its owner now proves it another way (magic link, code, recovery, invite), that
      // password goes: otherwise an attacker who signed up first would share the account.
      const foreignPassword = row.token_type !== 'signup' || row.drops_password;
      user = await updateUser(
        tx,
        user.id,
        `email_confirmed_at = now()${foreignPassword ? ', encrypted_password = null' : ''}`,
        [],
      );
      if (user.email) await insertEmailIdentity(tx, user.id, user.email, true);
    }
    // A followed PKCE link proves the address; the session goes to whoever holds the verifier.
    if (handOut === 'code')
      return { authCode: await issueAuthCode(tx, user.id, AMR[row.token_type]), redirectTo: row.redirect_to };
    return {
      session: await startSession(tx, ctx.settings, user, AMR[row.token_type], client),
      redirectTo: row.redirect_to,
    };
  });
  if (!outcome) throw invalid();
  return outcome;
}

export async function verifyPost(ctx: AuthContext, limits: AuthLimits, c: Context) {
  const body = await readJson(c, verifyBody, codes);
  const client = ctx.client(c);
  await ctx.limit(limits.verify, client.ip);
  if (body.type === 'sms' || body.type === 'phone_change') {
    const request = { type: body.type, phone: body.phone, token: body.token, tokenHash: body.token_hash };
    return respondJson(c, await verifyPhoneCode(ctx, request, client, limits.otpMaxAttempts));
  }
  let lookup: { linkToken: string } | { email: string; code: string };
  if (body.token_hash) lookup = { linkToken: body.token_hash };
  else if (body.token && body.email) lookup = { email: requireEmail(body.email), code: body.token.trim() };
  else throw errors.validation('Verify requires either a token and an email, or a token_hash');
  const outcome = await verifyToken(ctx, body.type, lookup, client, limits.otpMaxAttempts);
  return respondJson(c, 'session' in outcome ? outcome.session : {});
}

/** The link in a mail: verify, then send the browser on with the session in the URL fragment. */
export async function verifyGet(ctx: AuthContext, limits: AuthLimits, c: Context) {
  const type = c.req.query('type') as VerifyType | undefined;
  const token = c.req.query('token');
  const requested = c.req.query('redirect_to');
  const client = ctx.client(c);
  const fail = (code: string, description: string) => {
    const fragment = new URLSearchParams({ error: 'access_denied', error_code: code, error_description: description });
    const target = safeRedirect(ctx, requested);
    if (!token?.startsWith(PKCE_PREFIX)) return c.redirect(`${target}#${fragment}`, 303);
    // A PKCE client reads the outcome from the query; GoTrue sends it in both.
    const url = new URL(target);
    for (const [key, value] of fragment) url.searchParams.set(key, value);
    url.hash = fragment.toString();
    return c.redirect(url.toString(), 303);
  };
  if (!type || !token || !verifyTypes.includes(type))
    return fail('validation_failed', 'Verify requires a token and a type');
  try {
    await ctx.limit(limits.verify, client.ip);
    const pkce = token.startsWith(PKCE_PREFIX);
    const outcome = await verifyToken(
      ctx,
      type,
      { linkToken: token },
      client,
      limits.otpMaxAttempts,
      pkce ? 'code' : 'session',
    );
    const target = safeRedirect(ctx, requested ?? outcome.redirectTo ?? undefined);
    if ('authCode' in outcome) {
      const url = new URL(target);
      url.searchParams.set('code', outcome.authCode);
      return c.redirect(url.toString(), 303);
    }
    const { session } = outcome;
    const fragment = new URLSearchParams({
      access_token: session.access_token,
      expires_at: String(session.expires_at),
      expires_in: String(session.expires_in),
      refresh_token: session.refresh_token,
      token_type: 'bearer',
      type,
    });
    return c.redirect(`${target}#${fragment}`, 303);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return fail(err.code, err.message);
  }
}
