/** Sign-up, sign-in (token grants), the current user, sign-out and public settings. */
import type { Context } from 'hono';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { readJson } from '../platform/body.js';
import { requireCaller, type AuthContext } from './context.js';
import { hashPassword, needsRehash, verifyPassword } from './crypto.js';
import { passwordVerificationHook } from './hooks-calls.js';
import { web3Grant } from './disabled.js';
import { idTokenGrant } from './oauth/id-token.js';
import { FIXED_PROVIDERS } from '../config/external.js';
import { codes, errors } from './errors.js';
import { checkPassword, metadata, requireEmail } from './validate.js';
import { deliver, forgetNewUser, prepareMail, type PreparedMail } from './email.js';
import type { AuthLimits } from './limits.js';
import { beginPasswordAttempt } from './attempts.js';
import { requireReauthentication } from './reauthenticate.js';
import { refresh, startSession } from './sessions.js';
import { parseChallenge, pkceFields, pkceGrant } from './pkce.js';
import {
  findUserByEmail,
  insertEmailIdentity,
  insertUser,
  isBanned,
  normaliseEmail,
  updateUser,
  userJson,
} from './users.js';
import { respondJson, stringifyJson } from '../platform/json.js';
import { changePhone, signupWithPhone } from './phone-flows.js';
import { findUserByPhone } from './phone-users.js';
import { deliverSms, formatPhone, requirePhone, type PreparedSms } from './phone.js';

const signupBody = z.object({
  email: z.string().max(320).optional(),
  phone: z.string().max(64).optional(),
  password: z.string().max(1024).optional(),
  data: metadata.optional(),
  channel: z.string().max(32).optional(),
  ...pkceFields,
});

export async function signup(ctx: AuthContext, limits: AuthLimits, c: Context) {
  const body = await readJson(c, signupBody, codes);
  const client = ctx.client(c);
  if (body.phone) return signupWithPhone(ctx, limits, c, body);

  // supabase.auth.signInAnonymously() is a sign-up without credentials.
  if (body.email === undefined && body.password === undefined) {
    if (!ctx.config.auth.anonymousSignIns) throw errors.anonymousDisabled();
    await ctx.limit(limits.anonymous, client.ip);
    const session = await ctx.db.transaction(async (tx) => {
      const user = await insertUser(tx, {
        email: null,
        passwordHash: null,
        userMetadata: body.data ?? {},
        confirmed: false,
        anonymous: true,
      });
      return startSession(tx, ctx.settings, user, 'anonymous', client);
    });
    return respondJson(c, session);
  }

  if (ctx.config.auth.disableSignup) throw errors.signupDisabled();
  const email = requireEmail(body.email);
  const password = checkPassword(ctx, body.password);
  const pkce = parseChallenge(body);
  await ctx.limit(limits.signIn, client.ip);
  const passwordHash = await hashPassword(password);
  const confirm = ctx.config.auth.emailConfirmation;

  const redirectTo = c.req.query('redirect_to');
  const outcome = await ctx.db.transaction(async (tx) => {
    const existing = await findUserByEmail(tx, email, true);
    if (existing && (!confirm || existing.email_confirmed_at)) {
      if (!confirm) throw errors.userExists();
      // With confirmation on, GoTrue does not reveal that the address is taken: it answers as if
      // a new user signed up, with a user that does not exist.
      return { kind: 'fake' as const };
    }
    // An unconfirmed address signing up again gets a new confirmation mail; its password stays the
    // first one (whoever confirms must not inherit a password someone else chose).
    const user =
      existing ?? (await insertUser(tx, { email, passwordHash, userMetadata: body.data ?? {}, confirmed: !confirm }));
    if (!confirm)
      return { kind: 'session' as const, session: await startSession(tx, ctx.settings, user, 'password', client) };
    return {
      kind: 'confirm' as const,
      prepared: await prepareMail(ctx, limits, tx, {
        user,
        type: 'signup',
        email,
        redirectTo,
        requester: { ip: client.ip },
        pkce,
      }),
      created: !existing,
    };
  });

  if (outcome.kind === 'session') return respondJson(c, outcome.session);
  if (outcome.kind === 'fake') return respondJson(c, fakeUser(email, body.data ?? {}));
  const user = await deliver(
    ctx,
    outcome.prepared,
    outcome.created ? forgetNewUser(ctx, outcome.prepared.user.id) : undefined,
  );
  return respondJson(c, await ctx.db.transaction((tx) => userJson(tx, user)));
}

function fakeUser(email: string, data: Record<string, unknown>) {
  const now = new Date().toISOString();
  return {
    id: crypto.randomUUID(),
    aud: 'authenticated',
    role: 'authenticated',
    email,
    phone: '',
    confirmation_sent_at: now,
    app_metadata: { provider: 'email', providers: ['email'] },
    user_metadata: data,
    identities: [],
    created_at: now,
    updated_at: now,
    is_anonymous: false,
  };
}

const passwordGrant = z.object({
  email: z.string().max(320).optional(),
  phone: z.string().max(64).optional(),
  password: z.string().max(1024).optional(),
});
const refreshGrant = z.object({ refresh_token: z.string().min(1, { error: 'refresh_token is required' }).max(512) });

export async function token(ctx: AuthContext, limits: AuthLimits, c: Context) {
  const grant = c.req.query('grant_type') ?? '';
  const client = ctx.client(c);
  if (grant === 'password') {
    const body = await readJson(c, passwordGrant, codes);
    if (body.email && body.phone)
      throw errors.validation('Only an email address or phone number should be provided on login.');
    if (body.phone && !ctx.config.auth.sms.enabled) throw errors.phoneDisabledAs(422, 'Phone logins are disabled');
    if (!(body.email || body.phone) || !body.password) throw errors.invalidCredentials();
    await ctx.limit(limits.tokenPassword, client.ip);
    // A string that is no address (or number) matches no user, so there is no account to protect.
    // Numbers and addresses share the failure counter's keys without meeting: only addresses hold "@".
    const phone = body.phone ? formatPhone(body.phone) : undefined;
    const email = phone === undefined && body.email ? normaliseEmail(body.email) : undefined;
    const key = phone ?? email;
    // The attempt's point and the user, in one round trip.
    const { attempt, user } = key
      ? await ctx.db.transaction(async (tx) => {
          const [attempt, user] = await Promise.all([
            beginPasswordAttempt(tx, limits, key),
            phone ? findUserByPhone(tx, phone) : findUserByEmail(tx, key),
          ]);
          return { attempt, user };
        })
      : { attempt: undefined, user: undefined };
    attempt?.check();
    // Always pays for one hash, found or not, so timing does not reveal registered addresses.
    const ok = await verifyPassword(user?.encrypted_password, body.password);
    // GoTrue's password_verification_attempt hook judges every check of a known user's password.
    const rejected = user ? await passwordVerificationHook(ctx, user.id, ok, client.ip) : undefined;
    if (rejected) throw rejected;
    if (!user || !ok) throw errors.invalidCredentials();
    // An imported hash (bcrypt, argon2 of another cost, Firebase scrypt) becomes Trellis's own.
    const upgraded = needsRehash(user.encrypted_password) ? await hashPassword(body.password) : undefined;
    const refused =
      phone !== undefined
        ? user.phone_confirmed_at
          ? undefined
          : errors.phoneNotConfirmed()
        : ctx.config.auth.emailConfirmation && !user.email_confirmed_at
          ? errors.emailNotConfirmed()
          : undefined;
    const refusal = refused ?? (isBanned(user) ? errors.userBanned() : undefined);
    // The password was right: the attempt is no failure, whatever follows. Every statement goes out
    // in the transaction's first round trip.
    const session = await ctx.db.transaction(async (tx) => {
      const [started] = await Promise.all([
        refusal ?? startSession(tx, ctx.settings, user, 'password', client),
        attempt?.succeeded(tx),
        upgraded ? updateUser(tx, user.id, 'encrypted_password = $2', [upgraded]) : undefined,
      ]);
      return started;
    });
    if (session instanceof ApiError) throw session;
    return respondJson(c, session);
  }
  if (grant === 'refresh_token') {
    const body = await readJson(c, refreshGrant, codes);
    await ctx.limit(limits.tokenRefresh, client.ip);
    const outcome = await refresh(ctx.db, ctx.settings, body.refresh_token, client, null);
    // An OAuth-server client's session: GoTrue's OAuth error shape, not its usual one.
    if (outcome instanceof ApiError && outcome.code === 'invalid_client')
      return c.json({ error: outcome.code, error_description: outcome.message }, 400);
    if (outcome instanceof ApiError) throw outcome;
    return respondJson(c, outcome);
  }
  if (grant === 'pkce') return pkceGrant(ctx, limits, c);
  if (grant === 'id_token') return idTokenGrant(ctx, limits, c);
  if (grant === 'web3') return web3Grant();
  throw errors.unsupportedGrant(grant);
}

export async function getUser(ctx: AuthContext, c: Context) {
  return respondJson(
    c,
    await ctx.db.transaction(async (tx) => {
      const { user } = await requireCaller(ctx, c, tx);
      return userJson(tx, user);
    }),
  );
}

const userUpdate = z.object({
  email: z.string().max(320).optional(),
  password: z.string().max(1024).optional(),
  data: metadata.optional(),
  phone: z.string().max(64).optional(),
  channel: z.string().max(32).optional(),
  nonce: z.string().optional(),
  ...pkceFields,
});

export async function putUser(ctx: AuthContext, limits: AuthLimits, c: Context) {
  const body = await readJson(c, userUpdate, codes);
  if (body.phone && !ctx.config.auth.sms.enabled) throw errors.phoneDisabled();
  const newPhone = body.phone ? requirePhone(body.phone) : undefined;
  const password = body.password !== undefined ? checkPassword(ctx, body.password) : undefined;
  const newEmail = body.email !== undefined ? requireEmail(body.email) : undefined;
  const pkce = parseChallenge(body);
  const passwordHash = password !== undefined ? await hashPassword(password) : undefined;
  const confirm = ctx.config.auth.emailConfirmation;

  const redirectTo = c.req.query('redirect_to');
  const { user, prepared, texted } = await ctx.db.transaction(async (tx) => {
    const caller = await requireCaller(ctx, c, tx, true);
    let { user } = caller;
    // With a verified second factor, the credentials themselves change only from an aal2 session:
    // a stolen password alone must not be enough to take the account over (GoTrue does the same).
    const changesPhone = newPhone !== undefined && newPhone !== user.phone;
    if ((password !== undefined || newEmail !== undefined || changesPhone) && caller.session.aal !== 'aal2') {
      const factors = await tx.query(
        `select 1 from auth.mfa_factors where user_id = $1 and status = 'verified' limit 1`,
        [user.id],
      );
      if (factors.rowCount) throw errors.insufficientAalForUpdate();
    }
    if (password !== undefined && (await verifyPassword(user.encrypted_password, password)))
      throw errors.samePassword();
    if (password !== undefined) await requireReauthentication(ctx, limits, c, tx, caller, body.nonce);
    if (body.data) {
      // GoTrue merges the given keys into user_metadata; a key set to null is removed.
      user = await updateUser(tx, user.id, `raw_user_meta_data = jsonb_strip_nulls(raw_user_meta_data || $2::jsonb)`, [
        stringifyJson(body.data),
      ]);
    }
    if (passwordHash !== undefined) {
      user = await updateUser(tx, user.id, 'encrypted_password = $2', [passwordHash]);
      // A new password ends every other session: whoever knew the old one is signed out.
      await tx.query('delete from auth.sessions where user_id = $1 and id <> $2', [user.id, caller.session.id]);
    }
    let prepared: PreparedMail | undefined;
    if (newEmail !== undefined && newEmail !== user.email) {
      const taken = await findUserByEmail(tx, newEmail);
      if (taken) throw errors.emailExists();
      if (confirm) {
        // The change waits for the new address to confirm it (anonymous users included, as on
        // GoTrue); the mail is prepared here so that over the email budget nothing changes.
        prepared = await prepareMail(ctx, limits, tx, {
          user,
          type: 'email_change',
          email: newEmail,
          redirectTo,
          requester: { ip: ctx.client(c).ip },
          pkce,
        });
        user = prepared.user;
      } else {
        user = await updateUser(tx, user.id, `email = $2, email_confirmed_at = now()`, [newEmail]);
        await tx.query(`delete from auth.identities where user_id = $1 and provider = 'email'`, [user.id]);
        await insertEmailIdentity(tx, user.id, newEmail, true);
      }
    }
    if (user.is_anonymous && user.email && user.email_confirmed_at) {
      // An anonymous user with a confirmed email is a permanent user now (GoTrue's emailChangeVerify).
      user = await updateUser(
        tx,
        user.id,
        `is_anonymous = false, raw_app_meta_data = raw_app_meta_data || '{"provider":"email","providers":["email"]}'`,
        [],
      );
    }
    let texted: PreparedSms | undefined;
    if (changesPhone)
      ({ user, prepared: texted } = await changePhone(ctx, limits, tx, user, {
        phone: newPhone,
        channel: body.channel,
      }));
    return { user, prepared, texted };
  });
  if (texted) await deliverSms(ctx, texted);
  const updated = prepared ? await deliver(ctx, prepared) : user;
  return respondJson(c, await ctx.db.transaction((tx) => userJson(tx, updated)));
}

export async function logout(ctx: AuthContext, c: Context) {
  const scope = c.req.query('scope') ?? 'global';
  if (!['global', 'local', 'others'].includes(scope)) throw errors.validation(`scope must be global, local or others`);
  await ctx.db.transaction(async (tx) => {
    const { user, session } = await requireCaller(ctx, c, tx);
    if (scope === 'local') await tx.query('delete from auth.sessions where id = $1', [session.id]);
    else if (scope === 'others')
      await tx.query('delete from auth.sessions where user_id = $1 and id <> $2', [user.id, session.id]);
    else await tx.query('delete from auth.sessions where user_id = $1', [user.id]);
  });
  return c.body(null, 204);
}

export function settings(ctx: AuthContext, c: Context) {
  const auth = ctx.config.auth;
  return respondJson(c, {
    external: {
      ...Object.fromEntries(FIXED_PROVIDERS.map((name) => [name, auth.external[name]?.enabled === true])),
      anonymous_users: auth.anonymousSignIns,
      email: true,
      phone: auth.sms.enabled,
    },
    disable_signup: auth.disableSignup,
    mailer_autoconfirm: !auth.emailConfirmation,
    phone_autoconfirm: !auth.sms.confirmation,
    sms_provider: auth.sms.provider,
    saml_enabled: false,
  });
}
