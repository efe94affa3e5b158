/**
 * The GoTrue features Trellis does not offer (SAML SSO, web3 and ID-token sign-in, manual identity
 * linking), answered as GoTrue answers them when they are turned off, so auth-js
 * raises the AuthApiError an app already handles rather than a bare 404.
 */
import type { Context } from 'hono';
import { z } from 'zod';
import { readJson } from '../platform/body.js';
import { requireCaller, type AuthContext } from './context.js';
import { errors } from './errors.js';

const codes = { badJson: 'bad_json', invalid: 'validation_failed' };

/** /sso and /sso/saml/*: GoTrue's requireSAMLEnabled refuses before anything else. */
export function sso(): never {
  throw errors.samlDisabled();
}

/** grant_type=web3: GoTrue checks that a chain is enabled before it reads the body. */
export function web3Grant(): never {
  throw errors.web3Disabled();
}

const idTokenBody = z.object({
  id_token: z.string().optional(),
  provider: z.string().optional(),
  client_id: z.string().optional(),
  issuer: z.string().optional(),
});

// The issuers GoTrue names for the providers it knows by a fixed issuer (internal/api/provider).
const FIXED_ISSUERS: Record<string, string> = {
  google: 'https://accounts.google.com',
  facebook: 'https://www.facebook.com',
  kakao: 'https://kauth.kakao.com',
  vercel_marketplace: 'https://marketplace.vercel.com',
  snapchat: 'https://accounts.snapchat.com/accounts/oauth2/token',
  keycloak: '',
};
const APPLE_ISSUERS = ['https://appleid.apple.com', 'https://account.apple.com'];

/** The `iss` claim of a JWT, read without verifying it (only to name the provider in the answer). */
function unverifiedIssuer(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const iss = (claims as { iss?: unknown } | null)?.iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

/**
 * grant_type=id_token with no OIDC provider enabled: GoTrue validates the parameters, works out
 * the provider's issuer, then answers that the provider is not enabled.
 */
export async function idTokenGrant(c: Context): Promise<never> {
  const body = await readJson(c, idTokenBody, codes);
  if (!body.id_token) throw errors.validation('id_token required');
  const provider = body.provider ?? '';
  if (provider === '' && (!body.client_id || !body.issuer))
    throw errors.validation('provider or client_id and issuer required');
  if (provider === 'apple' || APPLE_ISSUERS.includes(body.issuer ?? '')) {
    const detected = unverifiedIssuer(body.id_token);
    if (detected === undefined) throw errors.validation('Unable to detect issuer in ID token for Apple provider');
    if (!APPLE_ISSUERS.includes(detected))
      throw errors.validation('Detected ID token issuer is not an Apple ID token issuer');
    throw errors.providerDisabled(detected);
  }
  if (provider === 'azure' || (body.issuer ?? '').startsWith('https://login.microsoftonline.com/')) {
    const detected = unverifiedIssuer(body.id_token);
    if (detected === undefined) throw errors.validation('Unable to detect issuer in ID token for Azure provider');
    if (!detected.startsWith('https://login.microsoftonline.com/') && !detected.startsWith('https://sts.windows.net/'))
      throw errors.validation('Detected ID token issuer is not an Azure ID token issuer');
    throw errors.providerDisabled(detected);
  }
  const known = Object.entries(FIXED_ISSUERS).find(
    ([name, issuer]) => provider === name || (issuer !== '' && body.issuer === issuer),
  );
  if (known) throw errors.providerDisabled(known[1]);
  if (provider.startsWith('custom:')) throw errors.validation('Custom OAuth providers are disabled');
  throw errors.validation(`Custom OIDC provider "${provider.slice(0, 100)}" not allowed`);
}

/** /user/identities/*: GoTrue checks the caller (the /user route) before requireManualLinkingEnabled. */
export async function identityLinking(ctx: AuthContext, c: Context): Promise<never> {
  await ctx.db.transaction((tx) => requireCaller(ctx, c, tx));
  throw errors.manualLinkingDisabled();
}
