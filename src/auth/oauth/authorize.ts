/**
 * The start of a sign-in with a provider (GoTrue's external.go): `GET /authorize`, and
 * `GET /user/identities/authorize` for linkIdentity. Each records an auth.flow_state row (where to
 * send the browser back, the client's PKCE challenge, the user a linking flow is for) and sends the
 * browser to the provider with a signed `state` naming it. callback.ts finishes the flow.
 */
import crypto from 'node:crypto';
import type { Context } from 'hono';
import * as oauth from 'oauth4webapi';
import type { ExternalProviderConfig } from '../../config.js';
import { respondJson } from '../../platform/json.js';
import { requireCaller, safeRedirect, type AuthContext } from '../context.js';
import { errors } from '../errors.js';
import type { AuthLimits } from '../limits.js';
import { parseChallenge } from '../pkce.js';
import { authorizationUrl, usesPkce } from './client.js';
import { FLOW_STATE_EXPIRY_S } from '../pkce.js';
import { flowNonce, signState, STATE_EXPIRY_S } from './state.js';

/** Parameters Trellis sets itself or reads, never passed on to the provider. */
const RESERVED = new Set([
  'provider',
  'scopes',
  'redirect_to',
  'code_challenge',
  'code_challenge_method',
  'skip_http_redirect',
  'apikey',
  'client_id',
  'client_secret',
  'redirect_uri',
  'response_type',
  'response_mode',
  'scope',
  'state',
  'nonce',
  'code',
  'invite_token',
]);

/** The configured provider of that id (enabled or not); the one lookup every OAuth route uses. */
export function configuredProvider(ctx: AuthContext, id: string): ExternalProviderConfig | undefined {
  return Object.hasOwn(ctx.config.auth.external, id) ? ctx.config.auth.external[id] : undefined;
}

/** GoTrue's "Unsupported provider" answers, by what is wrong with the named one. */
export function enabledProvider(ctx: AuthContext, name: string | undefined): ExternalProviderConfig {
  const id = (name ?? '').toLowerCase();
  const provider = configuredProvider(ctx, id);
  if (!provider) throw errors.validation(`Unsupported provider: Provider ${id.slice(0, 100)} could not be found`);
  if (!provider.enabled) throw errors.validation('Unsupported provider: provider is not enabled');
  return provider;
}

export function callbackUrl(ctx: AuthContext, provider: ExternalProviderConfig): string {
  return provider.redirectUri || `${ctx.config.publicUrl}/auth/v1/callback`;
}

/** The OIDC nonce of a flow, for the OpenID providers (X speaks plain OAuth 2.0 with PKCE). */
export function nonceFor(ctx: AuthContext, provider: ExternalProviderConfig, flowId: string): string | undefined {
  const oidc = usesPkce(provider) && provider.name !== 'x' && provider.name !== 'twitter';
  return oidc && !provider.skipNonceCheck ? flowNonce(ctx.tokens.secret, flowId) : undefined;
}

/** The provider's authorization URL for a new flow; `linkingTarget` for linkIdentity. */
async function startFlow(ctx: AuthContext, c: Context, linkingTarget: string | undefined): Promise<string> {
  const query = new URL(c.req.url).searchParams;
  const provider = enabledProvider(ctx, query.get('provider') ?? undefined);
  if (!provider.secret) throw errors.validation('Unsupported provider: missing OAuth secret');
  const pkce = parseChallenge({
    code_challenge: query.get('code_challenge'),
    code_challenge_method: query.get('code_challenge_method'),
  });
  const referrer = safeRedirect(ctx, query.get('redirect_to') ?? undefined);
  const scopes = (query.get('scopes') ?? '').slice(0, 2048);
  const extra = [...query.entries()]
    .filter(([key]) => !RESERVED.has(key.toLowerCase()))
    .slice(0, 20)
    .map(([key, value]) => [key.slice(0, 100), value.slice(0, 2048)] as const);
  const flowId = crypto.randomUUID();
  const codeVerifier = usesPkce(provider) ? oauth.generateRandomCodeVerifier() : undefined;
  const nonce = nonceFor(ctx, provider, flowId);
  const state = await signState(ctx.tokens.secret, flowId, provider.id);
  let url: string;
  try {
    url = await authorizationUrl(provider, {
      state,
      redirectUri: callbackUrl(ctx, provider),
      scopes,
      nonce,
      codeVerifier,
      extra,
    });
  } catch (err) {
    ctx.log.warn({ err, provider: provider.id }, 'oauth provider discovery failed');
    throw errors.validation(`Unsupported provider: error creating OIDC provider`);
  }
  await ctx.db.transaction(async (tx) => {
    // Flows nobody finished are dropped once their state has expired, and PKCE flows whose code
    // nobody exchanged once the code has (they hold the provider's tokens).
    await tx.query(
      `delete from auth.flow_state where authentication_method = 'oauth'
         and ((user_id is null and created_at < now() - make_interval(secs => $1))
           or (user_id is not null and coalesce(auth_code_issued_at, created_at) < now() - make_interval(secs => $2)))`,
      [STATE_EXPIRY_S, FLOW_STATE_EXPIRY_S],
    );
    await tx.query('delete from auth.oauth_client_states where created_at < now() - make_interval(secs => $1)', [
      STATE_EXPIRY_S,
    ]);
    const clientStateId = codeVerifier ? crypto.randomUUID() : null;
    if (codeVerifier)
      await tx.query(
        'insert into auth.oauth_client_states (id, provider_type, code_verifier, created_at) values ($1, $2, $3, now())',
        [clientStateId, provider.id, codeVerifier],
      );
    await tx.query(
      `insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge, provider_type,
         authentication_method, referrer, oauth_client_state_id, linking_target_id, email_optional, created_at, updated_at)
       values ($1, null, $2, $3::auth.code_challenge_method, $4, $5, 'oauth', $6, $7, $8, $9, now(), now())`,
      [
        flowId,
        pkce ? crypto.randomUUID() : null,
        pkce?.method ?? null,
        pkce?.challenge ?? null,
        provider.id,
        referrer,
        clientStateId,
        linkingTarget ?? null,
        provider.emailOptional,
      ],
    );
  });
  return url;
}

/**
 * GET /authorize: no apikey, a browser navigates here. Each start writes rows for a caller nobody
 * knows yet, so it counts against the client's token budget (GoTrue does not limit it).
 */
export async function authorize(ctx: AuthContext, limits: AuthLimits, c: Context) {
  await ctx.limit(limits.tokenRefresh, ctx.client(c).ip);
  return c.redirect(await startFlow(ctx, c, undefined), 302);
}

/** GET /user/identities/authorize (linkIdentity): the signed-in caller's flow, when linking is on. */
export async function linkIdentity(ctx: AuthContext, limits: AuthLimits, c: Context) {
  const { user } = await ctx.db.transaction((tx) => requireCaller(ctx, c, tx));
  if (!ctx.config.auth.manualLinking) throw errors.manualLinkingDisabled();
  await ctx.limit(limits.tokenRefresh, ctx.client(c).ip);
  const url = await startFlow(ctx, c, user.id);
  if (c.req.query('skip_http_redirect') === 'true') return respondJson(c, { url });
  return c.redirect(url, 302);
}
