/**
 * The GoTrue features Trellis does not offer (SAML SSO, web3 sign-in), answered as GoTrue answers
 * them when they are turned off, so auth-js raises the AuthApiError an app already handles rather than a bare 404.
 */
import { errors } from './errors.js';

/** /sso and /sso/saml/*: GoTrue's requireSAMLEnabled refuses before anything else. */
export function sso(): never {
  throw errors.samlDisabled();
}

/** grant_type=web3: GoTrue checks that a chain is enabled before it reads the body. */
export function web3Grant(): never {
  throw errors.web3Disabled();
}

// The issuers GoTrue names for the providers it knows by a fixed issuer (internal/api/provider);
// the ID-token grant (oauth/id-token.ts) answers with them for a provider that is not enabled.
export const FIXED_ISSUERS: Record<string, string> = {
  google: 'https://accounts.google.com',
  facebook: 'https://www.facebook.com',
  kakao: 'https://kauth.kakao.com',
  vercel_marketplace: 'https://marketplace.vercel.com',
  snapchat: 'https://accounts.snapchat.com/accounts/oauth2/token',
  keycloak: '',
};
export const APPLE_ISSUERS = ['https://appleid.apple.com', 'https://account.apple.com'];

/** The `iss` claim of a JWT, read without verifying it (only to name the provider in the answer). */
export function unverifiedIssuer(token: string): string | undefined {
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
