/** DELETE /user/identities/:id (unlinkIdentity), with GoTrue's refusals (internal/api/identity.go). */
import type { Context } from 'hono';
import { respondJson } from '../../platform/json.js';
import { requireCaller, type AuthContext } from '../context.js';
import { authError, errors } from '../errors.js';
import { isUuid, updateUser } from '../users.js';
import { refreshProviders } from './accounts.js';

export async function unlinkIdentity(ctx: AuthContext, c: Context) {
  await ctx.db.transaction(async (tx) => {
    const { user, claims } = await requireCaller(ctx, c, tx, true);
    if (!ctx.config.auth.manualLinking) throw errors.manualLinkingDisabled();
    const id = c.req.param('id') ?? '';
    if (!isUuid(id)) throw authError(404, 'validation_failed', 'identity_id must be an UUID');
    const aud = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
    if (aud !== (user.aud ?? 'authenticated'))
      throw authError(403, 'unexpected_audience', "Token audience doesn't match request audience");
    const identities = (
      await tx.query<{ id: string; provider: string; email: string | null }>(
        'select id, provider, email from auth.identities where user_id = $1 order by created_at',
        [user.id],
      )
    ).rows;
    if (identities.length <= 1)
      throw authError(422, 'single_identity_not_deletable', 'User must have at least 1 identity after unlinking');
    const target = identities.find((i) => i.id === id);
    if (!target) throw authError(422, 'identity_not_found', "Identity doesn't exist");
    await tx.query('delete from auth.identities where id = $1', [id]);
    // The user's address follows the identities left (GoTrue's UpdateUserEmailFromIdentities): if
    // it came from the one unlinked, the first remaining identity with an address gives it.
    const left = identities.filter((i) => i.id !== id);
    if (user.email && target.email === user.email && !left.some((i) => i.email === user.email)) {
      const next = left.find((i) => i.email)?.email ?? null;
      if (next) {
        const taken = await tx.query('select 1 from auth.users where email = $1 and id <> $2', [next, user.id]);
        if (taken.rowCount)
          throw authError(
            422,
            'email_conflict_identity_not_deletable',
            'Unable to unlink identity due to email conflict',
          );
      }
      await updateUser(tx, user.id, 'email = $2', [next]);
    }
    // app_metadata.provider keeps naming a provider the user still has.
    await refreshProviders(tx, user.id);
    const current = user.raw_app_meta_data.provider;
    if (current === target.provider && !left.some((i) => i.provider === current) && left[0])
      await updateUser(
        tx,
        user.id,
        `raw_app_meta_data = raw_app_meta_data || jsonb_build_object('provider', $2::text)`,
        [left[0].provider],
      );
  });
  return respondJson(c, {});
}
