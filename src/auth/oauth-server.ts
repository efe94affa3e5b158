/**
 * The OAuth 2.1 authorization server (GoTrue's oauthserver): a registered client sends the user to
 * GET /oauth/authorize (PKCE required), which redirects to the app's consent page
 * (site URL + AUTH_OAUTH_SERVER_AUTHORIZATION_URL_PATH ?authorization_id=…); the signed-in user's
 * app reads it (GET /oauth/authorizations/{id}, auth-js `oauth.getAuthorizationDetails`) and
 * answers (POST …/consent, `oauth.approveAuthorization` / `denyAuthorization`); the client then
 * trades the code at POST /oauth/token for a session of its own (sessions.oauth_client_id).
 */
import crypto from 'node:crypto';
import type { Context } from 'hono';
import { z } from 'zod';
import type { Tx } from '../db/index.js';
import { readJson } from '../platform/body.js';
import { respondJson } from '../platform/json.js';
import { requireCaller, type AuthContext } from './context.js';
import { sha256 } from './crypto.js';
import { codes, errors } from './errors.js';
import type { AuthLimits } from './limits.js';
import { findUserById, isBanned, isUuid, type UserRow } from './users.js';

// GoTrue's AuthorizationTTL default, and the scopes it knows (models.IsSupportedScope).
const AUTHORIZATION_TTL_S = 600;
const SUPPORTED_SCOPES = new Set(['openid', 'email', 'profile', 'phone']);

interface AuthorizationRow {
  id: string;
  authorization_id: string;
  client_id: string;
  user_id: string | null;
  redirect_uri: string;
  scope: string;
  state: string | null;
  code_challenge: string;
  code_challenge_method: 's256' | 'plain';
  status: 'pending' | 'approved' | 'denied' | 'expired';
  expired: boolean;
}

function withQuery(base: string, params: Record<string, string | null | undefined>): string {
  const url = new URL(base);
  for (const [k, v] of Object.entries(params)) if (v) url.searchParams.set(k, v);
  return url.href;
}

/** What an authorize request says beyond client and redirect, or why it cannot be served. */
export function authorizeProblem(q: {
  response_type?: string | undefined;
  scope?: string | undefined;
  code_challenge?: string | undefined;
  code_challenge_method?: string | undefined;
  resource?: string | undefined;
  state?: string | undefined;
}): string | undefined {
  if ((q.response_type ?? 'code') !== 'code') return 'only response_type=code is supported';
  // Each request is stored: bounded here, not by the URL length a proxy happens to allow.
  if ((q.scope ?? '').length > 1024) return 'scope is too long';
  if ((q.resource ?? '').length > 2048) return 'resource is too long';
  const scopes = (q.scope || 'email').split(' ').filter((s) => s !== '');
  if (scopes.length === 0) return 'scope parameter cannot be empty';
  const unknown = scopes.find((s) => !SUPPORTED_SCOPES.has(s));
  if (unknown) return `unsupported scope: ${unknown.slice(0, 100)}`;
  if (q.resource) {
    let ok = false;
    try {
      ok = new URL(q.resource).hash === '' && !q.resource.includes('#');
    } catch {
      ok = false;
    }
    if (!ok) return 'resource must be an absolute URI without a fragment';
  }
  if (!q.code_challenge || !q.code_challenge_method)
    return 'PKCE flow requires both code_challenge and code_challenge_method';
  const method = q.code_challenge_method.toLowerCase();
  if (method !== 's256' && method !== 'plain') return "code_challenge_method must be 'S256' or 'plain'";
  if (q.code_challenge.length < 43 || q.code_challenge.length > 128)
    return 'code_challenge must be between 43 and 128 characters';
  if ((q.state ?? '').length > 4096) return 'state is too long';
  return undefined;
}

/**
 * GET /oauth/authorize: opened by a browser, without an apikey (as on Supabase). Each request
 * writes a row for a caller nobody knows yet, so it counts against the client's token budget, as
 * the social /authorize does (GoTrue does not limit it).
 */
export async function authorize(ctx: AuthContext, limits: AuthLimits, c: Context) {
  if (!ctx.config.auth.oauthServer.enabled) throw errors.oauthServerDisabled();
  await ctx.limit(limits.tokenRefresh, ctx.client(c).ip);
  const q = c.req.query();
  if (!q.client_id) throw errors.validation('client_id is required');
  if (!q.redirect_uri) throw errors.validation('redirect_uri is required');
  if (!isUuid(q.client_id)) throw errors.oauthClientNotFoundBadRequest('invalid client_id format');
  const client = await ctx.db.transaction(
    async (tx) =>
      (
        await tx.query<{ redirect_uris: string }>(
          'select redirect_uris from auth.oauth_clients where id = $1 and deleted_at is null',
          [q.client_id],
        )
      ).rows[0],
  );
  if (!client) throw errors.oauthClientNotFoundBadRequest('invalid client_id');
  // An unregistered redirect is never followed: the error is answered here, not sent there.
  if (!client.redirect_uris.split(',').includes(q.redirect_uri)) throw errors.validation('invalid redirect_uri');
  const problem = authorizeProblem(q);
  if (problem)
    return c.redirect(
      withQuery(q.redirect_uri, { error: 'invalid_request', error_description: problem, state: q.state }),
      302,
    );
  const authorizationId = crypto.randomBytes(24).toString('base64url');
  await ctx.db.transaction(async (tx) => {
    // Requests past their expiry, and codes past theirs (approved before it), are dead whatever
    // their status: dropped here, as startFlow drops stale flow_state rows.
    await tx.query('delete from auth.oauth_authorizations where expires_at < now() - make_interval(secs => $1)', [
      AUTHORIZATION_TTL_S,
    ]);
    await tx.query(
      `insert into auth.oauth_authorizations (id, authorization_id, client_id, redirect_uri, scope, state, resource,
         code_challenge, code_challenge_method, nonce, expires_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() + make_interval(secs => $11))`,
      [
        crypto.randomUUID(),
        authorizationId,
        q.client_id,
        q.redirect_uri,
        q.scope || 'email',
        q.state || null,
        q.resource || null,
        q.code_challenge,
        (q.code_challenge_method ?? '').toLowerCase(),
        q.nonce?.slice(0, 255) || null,
        AUTHORIZATION_TTL_S,
      ],
    );
  });
  const consentPage = `${ctx.config.auth.siteUrl}/${ctx.config.auth.oauthServer.authorizationPath.replace(/^\/+/, '')}`;
  return c.redirect(withQuery(consentPage, { authorization_id: authorizationId }), 302);
}

/** The pending authorization, bound to the first user who opens it; expired ones are marked so. */
async function pendingAuthorization(tx: Tx, c: Context, user: UserRow): Promise<AuthorizationRow> {
  const id = c.req.param('authorizationId') ?? '';
  const row = (
    await tx.query<AuthorizationRow>(
      `select *, expires_at < now() as expired from auth.oauth_authorizations where authorization_id = $1 for update`,
      [id.slice(0, 255)],
    )
  ).rows[0];
  if (!row || (row.user_id !== null && row.user_id !== user.id)) throw errors.oauthAuthorizationNotFound();
  if (row.expired && row.status === 'pending') {
    await tx.query(`update auth.oauth_authorizations set status = 'expired' where id = $1`, [row.id]);
    return { ...row, status: 'expired' };
  }
  if (row.user_id === null)
    await tx.query('update auth.oauth_authorizations set user_id = $2 where id = $1', [row.id, user.id]);
  return row;
}

/** Approves: a fresh code (kept as its hash), the consent recorded, the client's redirect. */
async function approve(tx: Tx, row: AuthorizationRow, userId: string): Promise<string> {
  const code = crypto.randomBytes(32).toString('base64url');
  await tx.query(
    `update auth.oauth_authorizations set status = 'approved', approved_at = now(), authorization_code = $2 where id = $1`,
    [row.id, sha256(code)],
  );
  await tx.query(
    `insert into auth.oauth_consents (id, user_id, client_id, scopes) values ($1, $2, $3, $4)
     on conflict (user_id, client_id) do update set scopes = excluded.scopes, granted_at = now(), revoked_at = null`,
    [crypto.randomUUID(), userId, row.client_id, row.scope],
  );
  return withQuery(row.redirect_uri, { code, state: row.state });
}

export async function authorizationDetails(ctx: AuthContext, c: Context) {
  if (!ctx.config.auth.oauthServer.enabled) throw errors.oauthServerDisabled();
  return respondJson(
    c,
    await ctx.db.transaction(async (tx) => {
      const { user } = await requireCaller(ctx, c, tx);
      const row = await pendingAuthorization(tx, c, user);
      if (row.status !== 'pending') throw errors.validation('authorization request cannot be processed');
      // A user who already granted these scopes to this client is not asked again (GoTrue's rule).
      const consent = (
        await tx.query<{ scopes: string }>(
          'select scopes from auth.oauth_consents where user_id = $1 and client_id = $2 and revoked_at is null',
          [user.id, row.client_id],
        )
      ).rows[0];
      const granted = new Set((consent?.scopes ?? '').split(' '));
      if (consent && row.scope.split(' ').every((s) => granted.has(s)))
        return { redirect_url: await approve(tx, row, user.id) };
      const client = (
        await tx.query<{ client_name: string | null; client_uri: string | null; logo_uri: string | null }>(
          'select client_name, client_uri, logo_uri from auth.oauth_clients where id = $1',
          [row.client_id],
        )
      ).rows[0];
      return {
        authorization_id: row.authorization_id,
        redirect_uri: row.redirect_uri,
        client: {
          id: row.client_id,
          name: client?.client_name ?? '',
          uri: client?.client_uri ?? '',
          logo_uri: client?.logo_uri ?? '',
        },
        user: { id: user.id, email: user.email ?? '' },
        scope: row.scope,
      };
    }),
  );
}

const consentBody = z.object({ action: z.string().max(16).optional() });

export async function consent(ctx: AuthContext, c: Context) {
  if (!ctx.config.auth.oauthServer.enabled) throw errors.oauthServerDisabled();
  await ctx.db.transaction((tx) => requireCaller(ctx, c, tx));
  const body = await readJson(c, consentBody, codes);
  if (body.action !== 'approve' && body.action !== 'deny')
    throw errors.validation("action must be 'approve' or 'deny'");
  const result = await ctx.db.transaction(async (tx) => {
    const { user } = await requireCaller(ctx, c, tx);
    const row = await pendingAuthorization(tx, c, user);
    if (row.status === 'expired') return { expired: true as const };
    if (row.status !== 'pending') throw errors.validation('authorization request is no longer pending');
    if (body.action === 'approve') return { redirect_url: await approve(tx, row, user.id) };
    await tx.query(`update auth.oauth_authorizations set status = 'denied' where id = $1`, [row.id]);
    return {
      redirect_url: withQuery(row.redirect_uri, {
        error: 'access_denied',
        error_description: 'User denied the request',
        state: row.state,
      }),
    };
  });
  if ('expired' in result) throw errors.oauthAuthorizationNotFound();
  return respondJson(c, result);
}

/** The user an authorization code was issued to, once: the code is spent by this lookup. */
export async function redeemCode(
  tx: Tx,
  clientId: string,
  code: string,
  redirectUri: string | undefined,
  verifier: string | undefined,
): Promise<{ user: UserRow; scope: string } | string> {
  const row = (
    await tx.query<AuthorizationRow & { approved_at: Date | null }>(
      `update auth.oauth_authorizations set authorization_code = null
       where authorization_code = $1 and status = 'approved' returning *, approved_at < now() - make_interval(secs => $2) as expired`,
      [sha256(code), AUTHORIZATION_TTL_S],
    )
  ).rows[0];
  if (!row) return 'Invalid authorization code';
  if (row.expired) return 'Authorization code has expired';
  if (row.client_id !== clientId) return 'Authorization code was not issued for this client';
  if (redirectUri !== undefined && redirectUri !== row.redirect_uri) return 'Invalid redirect_uri';
  if (!verifier) return 'PKCE verification failed: code_verifier is required';
  const expected =
    row.code_challenge_method === 's256' ? crypto.createHash('sha256').update(verifier).digest('base64url') : verifier;
  const a = Buffer.from(expected);
  const b = Buffer.from(row.code_challenge);
  if (a.length !== b.length || !crypto.timingSafeEqual(a, b))
    return 'PKCE verification failed: code challenge does not match';
  const user = row.user_id ? await findUserById(tx, row.user_id, true) : undefined;
  if (!user) return 'User not found for authorization code';
  if (isBanned(user)) return 'User is banned';
  return { user, scope: row.scope };
}
