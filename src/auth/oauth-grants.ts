/**
 * A user's grants to OAuth clients (auth-js `oauth.listGrants` / `revokeGrant`, GoTrue's
 * /user/oauth/grants): the consents they gave, and taking one back, which also ends every session
 * the client holds for them.
 */
import type { Context } from 'hono';
import { respondJson } from '../platform/json.js';
import { requireCaller, type AuthContext } from './context.js';
import { errors } from './errors.js';
import { isUuid } from './users.js';

export async function listGrants(ctx: AuthContext, c: Context) {
  return respondJson(
    c,
    await ctx.db.transaction(async (tx) => {
      const { user } = await requireCaller(ctx, c, tx);
      if (!ctx.config.auth.oauthServer.enabled) throw errors.oauthServerDisabled();
      const rows = await tx.query<{
        client_id: string;
        client_name: string | null;
        client_uri: string | null;
        logo_uri: string | null;
        scopes: string;
        granted_at: Date;
      }>(
        `select k.client_id, c.client_name, c.client_uri, c.logo_uri, k.scopes, k.granted_at
         from auth.oauth_consents k join auth.oauth_clients c on c.id = k.client_id and c.deleted_at is null
         where k.user_id = $1 and k.revoked_at is null order by k.granted_at desc`,
        [user.id],
      );
      return rows.rows.map((r) => ({
        client: { id: r.client_id, name: r.client_name ?? '', uri: r.client_uri ?? '', logo_uri: r.logo_uri ?? '' },
        scopes: r.scopes.split(' ').filter((s) => s !== ''),
        granted_at: r.granted_at.toISOString(),
      }));
    }),
  );
}

export async function revokeGrant(ctx: AuthContext, c: Context) {
  await ctx.db.transaction(async (tx) => {
    const { user } = await requireCaller(ctx, c, tx);
    if (!ctx.config.auth.oauthServer.enabled) throw errors.oauthServerDisabled();
    const clientId = c.req.query('client_id') ?? '';
    if (clientId === '') throw errors.validation('client_id query parameter is required');
    if (!isUuid(clientId)) throw errors.validation('invalid client_id format');
    const revoked = await tx.query(
      `update auth.oauth_consents set revoked_at = now() where user_id = $1 and client_id = $2 and revoked_at is null`,
      [user.id, clientId],
    );
    if (!revoked.rowCount) throw errors.oauthConsentNotFound();
    await tx.query('delete from auth.sessions where user_id = $1 and oauth_client_id = $2', [user.id, clientId]);
  });
  return c.body(null, 204);
}
