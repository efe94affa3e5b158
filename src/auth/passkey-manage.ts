/** A user's own passkeys (list, rename, delete) and the admin's view of anyone's. */
import type { Context } from 'hono';
import { z } from 'zod';
import { readJson } from '../platform/body.js';
import { respondJson } from '../platform/json.js';
import { requireCaller, type AuthContext } from './context.js';
import { codes, errors } from './errors.js';
import { credentialsOf, listItem, registeringCaller, type CredentialRow } from './passkey-store.js';
import { findUserById, isUuid } from './users.js';

export async function listOwn(ctx: AuthContext, c: Context) {
  return respondJson(
    c,
    await ctx.db.transaction(async (tx) => {
      const { user } = await requireCaller(ctx, c, tx);
      return (await credentialsOf(tx, user.id)).map(listItem);
    }),
  );
}

const renameBody = z.object({ friendly_name: z.string().optional() });

export async function rename(ctx: AuthContext, c: Context) {
  const caller = await ctx.db.transaction((tx) => requireCaller(ctx, c, tx));
  const id = c.req.param('id') ?? '';
  if (!isUuid(id)) throw errors.passkeyNotFound();
  const body = await readJson(c, renameBody, codes);
  const name = body.friendly_name ?? '';
  if (name === '') throw errors.validation('friendly_name is required');
  if (name.length > 120) throw errors.validation('friendly_name must be 120 characters or less');
  if (name.includes('\u0000')) throw errors.validation('friendly_name must not contain NUL characters');
  const row = await ctx.db.transaction(
    async (tx) =>
      (
        await tx.query<CredentialRow>(
          `update auth.webauthn_credentials set friendly_name = $3, updated_at = now()
           where id = $1 and user_id = $2 returning *`,
          [id, caller.user.id, name],
        )
      ).rows[0],
  );
  if (!row) throw errors.passkeyNotFound();
  return respondJson(c, listItem(row));
}

export async function removeOwn(ctx: AuthContext, c: Context) {
  const id = c.req.param('id') ?? '';
  await ctx.db.transaction(async (tx) => {
    const { user } = await registeringCaller(ctx, c, tx);
    if (!isUuid(id)) throw errors.passkeyNotFound();
    const gone = await tx.query('delete from auth.webauthn_credentials where id = $1 and user_id = $2', [id, user.id]);
    if (!gone.rowCount) throw errors.passkeyNotFound();
  });
  return c.body(null, 204);
}

/** GET /admin/users/{id}/passkeys and DELETE …/{passkeyId}, for the admin router. */
export async function adminListPasskeys(ctx: AuthContext, c: Context) {
  const userId = c.req.param('id') ?? '';
  return respondJson(
    c,
    await ctx.db.transaction(async (tx) => {
      if (!isUuid(userId) || !(await findUserById(tx, userId))) throw errors.userNotFound();
      return (await credentialsOf(tx, userId)).map(listItem);
    }),
  );
}

export async function adminDeletePasskey(ctx: AuthContext, c: Context) {
  const userId = c.req.param('id') ?? '';
  const id = c.req.param('passkeyId') ?? '';
  await ctx.db.transaction(async (tx) => {
    if (!isUuid(userId) || !(await findUserById(tx, userId))) throw errors.userNotFound();
    if (!isUuid(id)) throw errors.passkeyNotFound();
    const gone = await tx.query('delete from auth.webauthn_credentials where id = $1 and user_id = $2', [id, userId]);
    if (!gone.rowCount) throw errors.passkeyNotFound();
  });
  return c.body(null, 204);
}
