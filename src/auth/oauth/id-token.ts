/**
 * `POST /token?grant_type=id_token` (signInWithIdToken, GoTrue's token_oidc.go): an ID token a
 * provider gave the app directly (Google One Tap, Sign in with Apple, a native SDK) signs its user
 * in. The token's signature is checked against the provider's JWKS, its issuer, its audience (one
 * of the provider's client ids) and — unless the provider skips it — its nonce, which must be the
 * SHA-256 (hex) of the raw nonce the app sends. Providers not enabled keep disabled.ts's answers.
 */
import crypto from 'node:crypto';
import type { Context } from 'hono';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { z } from 'zod';
import type { ExternalProviderConfig } from '../../config.js';
import { readJson } from '../../platform/body.js';
import { respondJson } from '../../platform/json.js';
import type { AuthContext } from '../context.js';
import { APPLE_ISSUERS, FIXED_ISSUERS, unverifiedIssuer } from '../disabled.js';
import { authError, codes, errors } from '../errors.js';
import type { AuthLimits } from '../limits.js';
import { startSession } from '../sessions.js';
import { accountForIdentity } from './accounts.js';
import { configuredProvider } from './authorize.js';
import { discover, DISCOVERY_CACHE_MAX } from './client.js';
import { LruCache } from './lru.js';
import { oidcUser } from './providers.js';

const body = z.object({
  id_token: z.string().max(16_384).optional(),
  access_token: z.string().max(16_384).optional(),
  nonce: z.string().max(1024).optional(),
  provider: z.string().max(256).optional(),
  client_id: z.string().max(1024).optional(),
  issuer: z.string().max(2048).optional(),
  link_identity: z.boolean().optional(),
});

/** GoTrue's OAuthError: a 400 with `{error, error_description}`, not its usual error shape. */
class OAuthGrantError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }
}
const invalid = (description: string) => new OAuthGrantError('invalid request', description);

// One key set per issuer's jwks_uri, bounded like the discovery cache (callers choose Azure tenants).
const jwksByUrl = new LruCache<string, ReturnType<typeof createRemoteJWKSet>>(DISCOVERY_CACHE_MAX);

interface Resolved {
  readonly provider: ExternalProviderConfig | undefined;
  readonly issuer: string;
}

/** Which provider and issuer the request means (GoTrue's getProvider), before anything is verified. */
function resolve(ctx: AuthContext, b: z.output<typeof body>, idToken: string): Resolved {
  const name = (b.provider ?? '').toLowerCase();
  const issuerParam = b.issuer ?? '';
  if (name === 'apple' || APPLE_ISSUERS.includes(issuerParam)) {
    const apple = configuredProvider(ctx, 'apple');
    const detected = unverifiedIssuer(idToken);
    if (detected === undefined) throw errors.validation('Unable to detect issuer in ID token for Apple provider');
    const allowed = apple?.url ? [apple.url, ...APPLE_ISSUERS] : APPLE_ISSUERS;
    if (!allowed.includes(detected))
      throw errors.validation('Detected ID token issuer is not an Apple ID token issuer');
    if (issuerParam && issuerParam !== detected)
      throw errors.validation('Provided issuer does not match ID token issuer');
    return { provider: apple, issuer: detected };
  }
  if (name === 'azure' || issuerParam.startsWith('https://login.microsoftonline.com/')) {
    const azure = configuredProvider(ctx, 'azure');
    const detected = unverifiedIssuer(idToken);
    if (detected === undefined) throw errors.validation('Unable to detect issuer in ID token for Azure provider');
    const ok =
      detected.startsWith('https://login.microsoftonline.com/') ||
      detected.startsWith('https://sts.windows.net/') ||
      (azure?.url !== undefined && azure.url !== '' && detected === azure.url);
    if (!ok) throw errors.validation('Detected ID token issuer is not an Azure ID token issuer');
    if (issuerParam && issuerParam !== detected)
      throw errors.validation('Provided issuer does not match ID token issuer');
    return { provider: azure, issuer: detected };
  }
  const keycloak = configuredProvider(ctx, 'keycloak');
  if (name === 'keycloak' || (keycloak?.enabled && keycloak.url !== '' && issuerParam === keycloak.url))
    return { provider: keycloak, issuer: keycloak?.url ?? '' };
  for (const [fixed, issuer] of Object.entries(FIXED_ISSUERS)) {
    if (fixed === 'keycloak') continue;
    if (name === fixed || (issuer !== '' && issuerParam === issuer)) {
      const provider = configuredProvider(ctx, fixed);
      return { provider, issuer: provider?.url || issuer };
    }
  }
  if (name.startsWith('custom:')) {
    if (!Object.values(ctx.config.auth.external).some((p) => p.custom))
      throw errors.validation('Custom OAuth providers are disabled');
    const provider = configuredProvider(ctx, name);
    if (!provider) throw errors.validation(`Custom provider "${name.slice(0, 100)}" not found`);
    if (!provider.enabled)
      throw authError(400, 'provider_disabled', `Custom provider "${name.slice(0, 100)}" is disabled`);
    return { provider, issuer: provider.url };
  }
  throw errors.validation(`Custom OIDC provider "${name.slice(0, 100)}" not allowed`);
}

async function verified(issuer: string, idToken: string): Promise<JWTPayload> {
  try {
    const as = await discover(issuer);
    if (!as.jwks_uri) throw new Error('no jwks_uri');
    let jwks = jwksByUrl.get(as.jwks_uri);
    if (!jwks) {
      jwks = createRemoteJWKSet(new URL(as.jwks_uri), { timeoutDuration: 10_000 });
      jwksByUrl.set(as.jwks_uri, jwks);
    }
    const { payload } = await jwtVerify(idToken, jwks, { issuer, clockTolerance: 30 });
    return payload;
  } catch {
    throw invalid('Bad ID token');
  }
}

export async function idTokenGrant(ctx: AuthContext, limits: AuthLimits, c: Context) {
  const b = await readJson(c, body, codes);
  if (!b.id_token) throw errors.validation('id_token required');
  if (!b.provider && (!b.client_id || !b.issuer)) throw errors.validation('provider or client_id and issuer required');
  // linkIdentity({ token }) would add the identity to the caller; Trellis links through the
  // redirect flow only, and says so rather than sign the token's owner in as someone else.
  if (b.link_identity)
    throw errors.validation('Linking an identity with an ID token is not supported; use linkIdentity with a redirect');
  const { provider, issuer } = resolve(ctx, b, b.id_token);
  if (!provider?.enabled) throw errors.providerDisabled(issuer);
  const client = ctx.client(c);
  await ctx.limit(limits.tokenRefresh, client.ip);
  try {
    const claims = await verified(issuer, b.id_token);
    if (!claims.sub) throw invalid('Missing sub claim in id_token');
    const audiences = Array.isArray(claims.aud) ? claims.aud : claims.aud ? [claims.aud] : [];
    if (!audiences.some((a) => provider.clientIds.includes(a)))
      throw invalid(`Unacceptable audience in id_token: [${audiences.join(' ')}]`);
    if (!provider.skipNonceCheck) {
      const tokenNonce = typeof claims.nonce === 'string' ? claims.nonce : '';
      const given = b.nonce ?? '';
      if ((tokenNonce !== '') !== (given !== ''))
        throw invalid('Passed nonce and nonce in id_token should either both exist or not.');
      if (tokenNonce !== '' && crypto.createHash('sha256').update(given).digest('hex') !== tokenNonce)
        throw new OAuthGrantError('invalid nonce', 'Nonces mismatch');
    }
    const user = oidcUser(provider.name, claims, provider.url);
    if (user.emails.length === 0 && !provider.emailOptional)
      throw errors.validation('Error getting user email from external provider');
    const session = await ctx.db.transaction(async (tx) => {
      const row = await accountForIdentity(ctx, tx, provider.id, user, provider.emailOptional);
      return startSession(tx, ctx.settings, row, 'oauth', client);
    });
    return respondJson(c, session);
  } catch (err) {
    if (err instanceof OAuthGrantError) return c.json({ error: err.error, error_description: err.description }, 400);
    throw err;
  }
}
