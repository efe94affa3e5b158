/** The admin API (`supabase.auth.admin.*`): the service_role key as bearer token manages users. */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { z } from 'zod';
import type { Tx } from '../db/index.js';
import { readJson } from '../platform/body.js';
import { callerClaims, type AuthContext } from './context.js';
import { BCRYPT_HASH, hashPassword } from './crypto.js';
import { isImportedHashFormat } from './password-hashes.js';
import { deliver, forgetNewUser, issueLink, prepareMail, type LinkType } from './email.js';
import { codes, errors } from './errors.js';
import type { AuthLimits } from './limits.js';
import {
  findUserByEmail,
  findUserById,
  insertEmailIdentity,
  insertUser,
  isUuid,
  updateUser,
  userJson,
  USER_COLUMNS,
  type UserRow,
} from './users.js';
import { checkPassword, metadata, requireEmail } from './validate.js';
import { adminSetPhone, findUserByPhone } from './phone-users.js';
import { requirePhone } from './phone.js';
import { respondJson, stringifyJson } from '../platform/json.js';

const userAttributes = z.object({
  id: z.string().max(64).optional(),
  email: z.string().max(320).optional(),
  password: z.string().max(1024).optional(),
  password_hash: z.string().max(1024).optional(),
  email_confirm: z.boolean().optional(),
  phone: z.string().max(64).optional(),
  phone_confirm: z.boolean().optional(),
  user_metadata: metadata.optional(),
  app_metadata: metadata.optional(),
  ban_duration: z.string().max(32).optional(),
  role: z.string().max(64).optional(),
});

/** GoTrue takes Go durations ("24h", "1h30m", "90s") or "none". */
export function parseBanDuration(value: string): number | null {
  if (value === 'none') return null;
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(value);
  if (!match || value === '')
    throw errors.validation(`ban_duration "${value}" is not a duration like 24h, 30m or none`);
  const seconds = Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
  // Go's durations end near 2,562,047 h (int64 nanoseconds); a longer ban overflowed timestamptz (a 500).
  if (seconds > 2_562_047 * 3600)
    throw errors.validation(`ban_duration "${value}" is longer than a Go duration can be`);
  return seconds * 1000;
}

export function adminRoutes(ctx: AuthContext): Hono {
  const app = new Hono();
  // Typed as the handlers' Context: a bare `use` handler's context carries an `any` input.
  app.use('*', async (c: Context, next) => {
    const claims = await callerClaims(ctx, c);
    if (claims.role !== 'service_role' && claims.role !== 'supabase_admin') throw errors.notAdmin();
    await next();
  });

  app.get('/users', async (c) => {
    const page = boundedInt(c.req.query('page'), 1, 1, 1_000_000);
    const perPage = boundedInt(c.req.query('per_page'), 50, 1, 1000);
    const { users, total } = await ctx.db.transaction(async (tx) => {
      const rows = await tx.query<UserRow>(
        `select ${USER_COLUMNS} from auth.users where deleted_at is null order by created_at desc, id limit $1 offset $2`,
        [perPage, (page - 1) * perPage],
      );
      const count = await tx.query<{ n: number }>('select count(*)::int as n from auth.users where deleted_at is null');
      return { users: await Promise.all(rows.rows.map((u) => userJson(tx, u))), total: count.rows[0]?.n ?? 0 };
    });
    const last = Math.max(1, Math.ceil(total / perPage));
    const link = (p: number, rel: string) => `</admin/users?page=${p}&per_page=${perPage}>; rel="${rel}"`;
    const links = [...(page < last ? [link(page + 1, 'next')] : []), link(last, 'last')];
    c.header('x-total-count', String(total));
    c.header('link', links.join(', '));
    return respondJson(c, { users, aud: 'authenticated' });
  });

  app.post('/users', async (c) => {
    const body = await readJson(c, userAttributes, codes);
    const phone = body.phone ? requirePhone(body.phone) : undefined;
    // A phone alone makes a phone user (GoTrue: "either an email or phone"); otherwise an email is required.
    const email = phone !== undefined && !body.email ? undefined : requireEmail(body.email);
    const id = body.id !== undefined ? customUserId(body.id) : undefined;
    const passwordHash = await adminPasswordHash(ctx, body.password, body.password_hash);
    const banMs = body.ban_duration !== undefined ? parseBanDuration(body.ban_duration) : null;
    return respondJson(
      c,
      await ctx.db.transaction(async (tx) => {
        if (email !== undefined && (await findUserByEmail(tx, email))) throw errors.emailExists();
        if (phone !== undefined && (await findUserByPhone(tx, phone))) throw errors.phoneExists();
        if (id && (await tx.query('select 1 from auth.users where id = $1', [id])).rowCount)
          throw errors.validation(`A user with id ${id} already exists`);
        let user = await insertUser(tx, {
          id,
          email: email ?? null,
          passwordHash,
          userMetadata: body.user_metadata ?? {},
          appMetadata: body.app_metadata,
          confirmed: body.email_confirm === true,
          ...(email === undefined ? { appMetadata: { provider: 'phone', providers: [], ...body.app_metadata } } : {}),
        });
        if (phone !== undefined) user = await adminSetPhone(tx, user, phone, body.phone_confirm === true);
        if (banMs !== null)
          user = await updateUser(tx, user.id, `banned_until = now() + make_interval(secs => $2)`, [banMs / 1000]);
        if (body.role) user = await updateUser(tx, user.id, 'role = $2', [body.role]);
        return userJson(tx, user);
      }),
    );
  });

  app.get('/users/:id', async (c) =>
    respondJson(c, await ctx.db.transaction(async (tx) => userJson(tx, await existingUser(tx, c.req.param('id'))))),
  );

  app.put('/users/:id', async (c) => {
    const body = await readJson(c, userAttributes, codes);
    const phone = body.phone ? requirePhone(body.phone) : undefined;
    const email = body.email !== undefined ? requireEmail(body.email) : undefined;
    const passwordHash =
      body.password !== undefined ? await hashPassword(checkPassword(ctx, body.password)) : undefined;
    const banMs = body.ban_duration !== undefined ? parseBanDuration(body.ban_duration) : undefined;
    return respondJson(
      c,
      await ctx.db.transaction(async (tx) => {
        let user = await existingUser(tx, c.req.param('id'), true);
        if (email !== undefined && email !== user.email) {
          const taken = await findUserByEmail(tx, email);
          if (taken) throw errors.emailExists();
          user = await updateUser(tx, user.id, 'email = $2', [email]);
          await tx.query(`delete from auth.identities where user_id = $1 and provider = 'email'`, [user.id]);
          await insertEmailIdentity(
            tx,
            user.id,
            email,
            body.email_confirm === true || user.email_confirmed_at !== null,
          );
        }
        if (body.email_confirm === true)
          user = await updateUser(tx, user.id, 'email_confirmed_at = coalesce(email_confirmed_at, now())', []);
        if (phone !== undefined) {
          const taken = await findUserByPhone(tx, phone);
          if (taken && taken.id !== user.id) throw errors.phoneExists();
          user = await adminSetPhone(tx, user, phone, body.phone_confirm === true);
        } else if (body.phone_confirm === true && user.phone) user = await adminSetPhone(tx, user, user.phone, true);
        if (passwordHash !== undefined) user = await updateUser(tx, user.id, 'encrypted_password = $2', [passwordHash]);
        if (body.user_metadata)
          user = await updateUser(
            tx,
            user.id,
            'raw_user_meta_data = jsonb_strip_nulls(raw_user_meta_data || $2::jsonb)',
            [stringifyJson(body.user_metadata)],
          );
        if (body.app_metadata)
          user = await updateUser(
            tx,
            user.id,
            'raw_app_meta_data = jsonb_strip_nulls(raw_app_meta_data || $2::jsonb)',
            [stringifyJson(body.app_metadata)],
          );
        if (body.role) user = await updateUser(tx, user.id, 'role = $2', [body.role]);
        if (banMs !== undefined) {
          user = await updateUser(
            tx,
            user.id,
            `banned_until = case when $2::float8 is null then null else now() + make_interval(secs => $2::float8) end`,
            [banMs === null ? null : banMs / 1000],
          );
          // A banned user's sessions end now, not when their access tokens expire.
          if (banMs !== null) await tx.query('delete from auth.sessions where user_id = $1', [user.id]);
        }
        return userJson(tx, user);
      }),
    );
  });

  app.delete('/users/:id', async (c) => {
    // auth-js always sends {should_soft_delete}; other clients may send no body.
    const body = await readJson(c, deleteBody, codes);
    await ctx.db.transaction(async (tx) => {
      const user = await existingUser(tx, c.req.param('id'), true);
      if (!body.should_soft_delete) {
        await tx.query('delete from auth.users where id = $1', [user.id]);
        return;
      }
      // A soft delete keeps the row, so the project's rows that reference it stay; the user can no
      // longer sign in, and the address is free for someone else (GoTrue's SoftDeleteUser).
      for (const table of [
        'auth.sessions',
        'auth.identities',
        'auth.mfa_factors',
        'auth.one_time_tokens',
        'auth.webauthn_credentials',
        'auth.webauthn_challenges',
      ]) {
        await tx.query(`delete from ${table} where user_id = $1`, [user.id]);
      }
      await updateUser(
        tx,
        user.id,
        `deleted_at = now(), email = null, phone = null, email_change = '', encrypted_password = null,
         raw_user_meta_data = '{}', raw_app_meta_data = '{}', banned_until = null`,
        [],
      );
    });
    return respondJson(c, {});
  });

  app.get('/users/:id/factors', async (c) =>
    respondJson(
      c,
      await ctx.db.transaction(async (tx) => {
        const user = await existingUser(tx, c.req.param('id'));
        const json = await userJson(tx, user);
        return json.factors ?? [];
      }),
    ),
  );

  app.delete('/users/:id/factors/:factorId', async (c) =>
    respondJson(
      c,
      await ctx.db.transaction(async (tx) => {
        const user = await existingUser(tx, c.req.param('id'));
        const deleted = await tx.query(
          'delete from auth.mfa_factors where id::text = $1 and user_id = $2 returning id',
          [c.req.param('factorId'), user.id],
        );
        if (!deleted.rowCount) throw errors.mfaFactorNotFound();
        await tx.query(
          `update auth.sessions set aal = 'aal1', factor_id = null where user_id = $1 and factor_id::text = $2`,
          [user.id, c.req.param('factorId')],
        );
        return { id: c.req.param('factorId') };
      }),
    ),
  );

  app.post('/generate_link', (c) => generateLink(ctx, c));
  return app;
}

async function existingUser(tx: Tx, id: string, lock = false): Promise<UserRow> {
  const user = await findUserById(tx, id, lock);
  if (!user) throw errors.userNotFound();
  return user;
}

const deleteBody = z.object({ should_soft_delete: z.boolean().optional() });

/** GoTrue lets an admin choose a user's id (e.g. to keep ids when importing users). */
function customUserId(raw: string): string {
  if (!isUuid(raw)) throw errors.validation('ID must conform to the uuid v4 format');
  if (/^0{8}-0{4}-0{4}-0{4}-0{12}$/.test(raw)) throw errors.validation('ID cannot be a nil uuid');
  return raw.toLowerCase();
}

/** A password to hash, an imported hash, or neither (the user signs in by link or code). */
async function adminPasswordHash(
  ctx: AuthContext,
  password: string | undefined,
  imported: string | undefined,
): Promise<string | null> {
  if (password !== undefined && imported !== undefined)
    throw errors.validation('Only a password or a password hash should be provided');
  if (imported !== undefined) {
    // As GoTrue: the hashes sign-in can verify, argon2i/argon2id, Firebase scrypt and bcrypt.
    if (!isImportedHashFormat(imported) && !BCRYPT_HASH.test(imported)) {
      throw errors.validation(
        'password_hash must be a bcrypt hash ($2a$/$2b$/$2y$), an argon2 hash ($argon2id$v=19$m=…,t=…,p=…$salt$hash or $argon2i$…) or a Firebase scrypt hash ($fbscrypt$v=1,n=…,r=…,p=…,ss=…,sk=…$salt$hash)',
      );
    }
    return imported;
  }
  return password !== undefined ? hashPassword(checkPassword(ctx, password)) : null;
}

function boundedInt(raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw errors.validation(`must be a whole number between ${min} and ${max}: ${raw.slice(0, 20)}`);
  return n;
}

const linkBody = z.object({
  type: z.enum(['signup', 'invite', 'magiclink', 'recovery', 'email_change_current', 'email_change_new']),
  email: z.string().max(320),
  new_email: z.string().max(320).optional(),
  password: z.string().max(1024).optional(),
  data: metadata.optional(),
  redirect_to: z.string().max(2048).optional(),
});

/** Makes the link a mail would carry, without sending it (for custom mail flows). */
async function generateLink(ctx: AuthContext, c: Context) {
  const body = await readJson(c, linkBody, codes);
  const email = requireEmail(body.email);
  const passwordHash = body.type === 'signup' ? await hashPassword(checkPassword(ctx, body.password)) : null;
  const redirectTo = body.redirect_to ?? c.req.query('redirect_to');
  const result = await ctx.db.transaction(async (tx) => {
    let user = await findUserByEmail(tx, email, true);
    let type: LinkType;
    let target = email;
    switch (body.type) {
      case 'signup':
        if (user?.email_confirmed_at) throw errors.emailExists();
        if (user && body.data)
          user = await updateUser(tx, user.id, 'raw_user_meta_data = raw_user_meta_data || $2::jsonb', [
            stringifyJson(body.data),
          ]);
        user ??= await insertUser(tx, { email, passwordHash, userMetadata: body.data ?? {}, confirmed: false });
        type = 'signup';
        break;
      case 'invite':
        if (user?.email_confirmed_at) throw errors.emailExists();
        user ??= await insertUser(tx, {
          email,
          passwordHash: null,
          userMetadata: body.data ?? {},
          confirmed: false,
          invited: true,
        });
        user = await updateUser(tx, user.id, 'invited_at = now()', []);
        type = 'invite';
        break;
      case 'magiclink':
        // An unknown address signs up, as GoTrue does: the link confirms the new user.
        type = user ? 'magiclink' : 'signup';
        user ??= await insertUser(tx, { email, passwordHash: null, userMetadata: body.data ?? {}, confirmed: false });
        break;
      case 'recovery':
        if (!user) throw errors.userNotFoundByEmail();
        type = 'recovery';
        break;
      default: {
        if (!user) throw errors.userNotFoundByEmail();
        target = requireEmail(body.new_email);
        if (await findUserByEmail(tx, target)) throw errors.emailExists();
        type = 'email_change';
      }
    }
    const link = await issueLink(ctx, tx, user, type, target, redirectTo);
    if (type === 'email_change') user = (await findUserById(tx, user.id)) ?? user;
    return { user: await userJson(tx, user), link, type };
  });
  return respondJson(c, {
    ...result.user,
    action_link: result.link.actionLink,
    email_otp: result.link.code,
    hashed_token: result.link.linkToken,
    redirect_to: result.link.redirectTo,
    verification_type: result.type,
  });
}

const inviteBody = z.object({ email: z.string().max(320), data: metadata.optional() });

/** POST /invite (auth.admin.inviteUserByEmail): creates the user and mails an invite link. */
export async function invite(ctx: AuthContext, limits: AuthLimits, c: Context) {
  const claims = await callerClaims(ctx, c);
  if (claims.role !== 'service_role' && claims.role !== 'supabase_admin') throw errors.notAdmin();
  const body = await readJson(c, inviteBody, codes);
  const email = requireEmail(body.email);
  const redirectTo = c.req.query('redirect_to');
  const { prepared, created } = await ctx.db.transaction(async (tx) => {
    const existing = await findUserByEmail(tx, email, true);
    if (existing?.email_confirmed_at) throw errors.emailExists();
    const user =
      existing ??
      (await insertUser(tx, {
        email,
        passwordHash: null,
        userMetadata: body.data ?? {},
        confirmed: false,
        invited: true,
      }));
    return {
      prepared: await prepareMail(ctx, limits, tx, {
        user,
        type: 'invite',
        email,
        redirectTo,
        requester: 'service_role',
      }),
      created: !existing,
    };
  });
  const user = await deliver(ctx, prepared, created ? forgetNewUser(ctx, prepared.user.id) : undefined);
  return respondJson(c, await ctx.db.transaction((tx) => userJson(tx, user)));
}
