/**
 * POST /oauth/token of the OAuth 2.1 server: a registered client authenticates (client_secret_basic,
 * client_secret_post, or none for public clients) and trades an authorization code (with its PKCE
 * verifier) or a refresh token for tokens. Errors are RFC 6749's `{error, error_description}`, as
 * GoTrue's NewOAuthError renders them, not GoTrue's usual error body.
 */
import crypto from 'node:crypto';
import type { Context } from 'hono';
import { ApiError } from '../errors.js';
import { headerOf } from '../platform/http.js';
import { stringifyJson } from '../platform/json.js';
import type { AuthContext } from './context.js';
import { errors } from './errors.js';
import type { AuthLimits } from './limits.js';
import { redeemCode } from './oauth-server.js';
import { refresh, startSession } from './sessions.js';
import { isUuid } from './users.js';

interface ClientRow {
  id: string;
  client_secret_hash: string | null;
  client_type: 'public' | 'confidential';
  token_endpoint_auth_method: string;
  grant_types: string;
}

const oauthError = (c: Context, error: string, description: string, status: 400 | 401 = 400) =>
  c.body(stringifyJson({ error, error_description: description }), status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
  });

/** The form or JSON body as strings (RFC 6749 speaks form; auth libraries send either). */
async function params(c: Context): Promise<Record<string, string> | undefined> {
  const type = headerOf(c, 'content-type') ?? '';
  const text = await c.req.text();
  if (type.includes('application/json')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
      return Object.fromEntries(
        Object.entries(parsed).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v] as const] : [])),
      );
    } catch {
      return undefined;
    }
  }
  return Object.fromEntries(new URLSearchParams(text));
}

function secretMatches(secret: string, hash: string | null): boolean {
  if (!hash) return false;
  const a = crypto.createHash('sha256').update(secret).digest();
  const b = Buffer.from(hash, 'base64url');
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** The client the request authenticates as, by the method it registered with. */
async function authenticateClient(ctx: AuthContext, c: Context, p: Record<string, string>) {
  let id = p.client_id;
  let secret = p.client_secret;
  let method = secret !== undefined ? 'client_secret_post' : 'none';
  const basic = /^Basic\s+(.+)$/i.exec(headerOf(c, 'authorization') ?? '');
  if (basic?.[1]) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    try {
      id = decodeURIComponent(decoded.slice(0, colon));
      secret = decodeURIComponent(decoded.slice(colon + 1));
    } catch {
      return undefined; // a stray `%`: no client we know, not a server error
    }
    method = 'client_secret_basic';
  }
  if (!id || !isUuid(id)) return undefined;
  const client = await ctx.db.transaction(
    async (tx) =>
      (
        await tx.query<ClientRow>(
          `select id, client_secret_hash, client_type, token_endpoint_auth_method, grant_types
           from auth.oauth_clients where id = $1 and deleted_at is null`,
          [id],
        )
      ).rows[0],
  );
  if (!client || client.token_endpoint_auth_method !== method) return undefined;
  if (method !== 'none' && !secretMatches(secret ?? '', client.client_secret_hash)) return undefined;
  return client;
}

export async function oauthToken(ctx: AuthContext, limits: AuthLimits, c: Context) {
  if (!ctx.config.auth.oauthServer.enabled) throw errors.oauthServerDisabled();
  const p = await params(c);
  if (!p) return oauthError(c, 'invalid_request', 'Invalid JSON body');
  if (!p.grant_type) return oauthError(c, 'invalid_request', 'grant_type is required');
  const client = await authenticateClient(ctx, c, p);
  if (!client) return oauthError(c, 'invalid_client', 'Client authentication failed', 401);
  if (!client.grant_types.split(',').includes(p.grant_type))
    return oauthError(
      c,
      'unsupported_grant_type',
      `Client is not allowed to use grant type: ${p.grant_type.slice(0, 40)}`,
    );
  const info = ctx.client(c);
  if (p.grant_type === 'authorization_code') {
    if (!p.code) return oauthError(c, 'invalid_request', 'code is required for authorization_code grant');
    await ctx.limit(limits.verify, info.ip);
    const code = p.code;
    const outcome = await ctx.db.transaction(async (tx) => {
      const redeemed = await redeemCode(tx, client.id, code, p.redirect_uri, p.code_verifier);
      if (typeof redeemed === 'string') return redeemed;
      // The session belongs to the client: its tokens are told apart, and deleting the client ends it.
      return startSession(tx, ctx.settings, redeemed.user, 'oauth', info, {
        clientId: client.id,
        scopes: redeemed.scope,
      });
    });
    if (typeof outcome === 'string') return oauthError(c, 'invalid_grant', outcome);
    return c.body(stringifyJson(outcome), 200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  }
  if (p.grant_type === 'refresh_token') {
    if (!p.refresh_token) return oauthError(c, 'invalid_request', 'refresh_token is required for refresh_token grant');
    await ctx.limit(limits.tokenRefresh, info.ip);
    // A client refreshes only the sessions issued to it (refresh checks, as GoTrue's service does).
    // Only our own refusals reach the client; anything else is a bug, answered with the generic 500.
    const outcome = await refresh(ctx.db, ctx.settings, p.refresh_token, info, client.id).catch((err: unknown) => {
      if (err instanceof ApiError && err.status < 500) return err;
      throw err;
    });
    if (outcome instanceof ApiError)
      return oauthError(c, outcome.code === 'invalid_client' ? 'invalid_client' : 'invalid_grant', outcome.message);
    return c.body(stringifyJson(outcome), 200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  }
  return oauthError(c, 'unsupported_grant_type', `Unsupported grant type: ${p.grant_type.slice(0, 40)}`);
}
