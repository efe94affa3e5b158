/**
 * How each provider Trellis ships signs users in: an OpenID Connect issuer (discovery, ID token) or
 * a plain OAuth 2.0 service with a profile API, and what GoTrue reads from its answers
 * (internal/api/provider/*.go). Pure apart from the `getJson` it is handed.
 */
import type { ExternalProviderConfig } from '../../config.js';
import { discord, facebook, github, gitlab, origin, spotify, x } from './oauth2-providers.js';
import { claims, str, type OidcSpec, type ProviderSpec, type ProviderUser } from './profile.js';

export type { ProviderUser };

/** The user an ID token (or OIDC userinfo) describes. */
export function oidcUser(token: Record<string, unknown>): ProviderUser {
  const email = str(token.email);
  // Apple sends email_verified as the string "true".
  const verified = token.email_verified === true || token.email_verified === 'true';
  const subject = str(token.sub);
  const standard = [
    'iss',
    'sub',
    'name',
    'family_name',
    'given_name',
    'middle_name',
    'nickname',
    'preferred_username',
    'profile',
    'picture',
    'website',
    'gender',
    'birthdate',
    'zoneinfo',
    'locale',
    'phone_number',
  ];
  const fields: Record<string, unknown> = {};
  for (const key of standard) if (typeof token[key] === 'string') fields[key] = token[key];
  return {
    subject,
    emails: email ? [{ email, verified, primary: true }] : [],
    metadata: claims({
      ...fields,
      aud: Array.isArray(token.aud) ? token.aud[0] : token.aud,
      email,
      email_verified: email ? verified : undefined,
      phone_verified: typeof token.phone_number === 'string' ? token.phone_number_verified === true : undefined,
      provider_id: subject,
      full_name: str(token.name),
      avatar_url: str(token.picture),
    }),
  };
}

/** The spec of a configured provider; `url` replaces the default issuer or host. */
export function providerSpec(config: ExternalProviderConfig): ProviderSpec {
  const oidc = (issuer: string, scopes = 'openid email profile', formPost?: boolean): OidcSpec => ({
    kind: 'oidc',
    issuer: origin(config.url, issuer),
    scopes,
    ...(formPost ? { formPost } : {}),
  });
  switch (config.name) {
    case 'github':
      return github(config.url);
    case 'gitlab':
      return gitlab(config.url);
    case 'discord':
      return discord(config.url);
    case 'facebook':
      return facebook(config.url);
    case 'spotify':
      return spotify(config.url);
    case 'x':
    case 'twitter':
      return x(config.url);
    case 'google':
      return oidc('https://accounts.google.com');
    case 'apple':
      return oidc('https://appleid.apple.com', 'openid name email', true);
    case 'azure':
      // A tenant's issuer (https://login.microsoftonline.com/<tenant>/v2.0): the multi-tenant
      // "common" endpoint issues tokens under each tenant's issuer, which discovery cannot check.
      return oidc('https://login.microsoftonline.com/common/v2.0');
    case 'linkedin_oidc':
      return oidc('https://www.linkedin.com/oauth');
    case 'slack_oidc':
      return oidc('https://slack.com');
    default:
      // keycloak and the generic providers: `url` is the issuer (required by the config).
      return oidc(config.url, 'openid email profile');
  }
}
