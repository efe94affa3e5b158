/**
 * How each provider Trellis ships signs users in: an OpenID Connect issuer (discovery, ID token) or
 * a plain OAuth 2.0 service with a profile API, and what GoTrue reads from its answers
 * (internal/api/provider/*.go). Pure apart from the `getJson` it is handed.
 */
import type { ExternalProviderConfig } from '../../config.js';
import { discord, facebook, github, gitlab, origin, spotify, x } from './oauth2-providers.js';
import { claims, obj, str, type OidcSpec, type ProviderSpec, type ProviderUser } from './profile.js';

export type { ProviderUser };

/** Azure's multi-tenant endpoints: tokens come from whichever tenant the user belongs to. */
const AZURE_MULTI_TENANT = new Set(['common', 'organizations', 'consumers']);

/**
 * Whether an Azure token comes from the one tenant the provider's `url` names (a single-tenant
 * setup): `url` is a tenant's issuer and the token's `iss` is that issuer.
 */
export function azureSingleTenant(configuredUrl: string, iss: string): boolean {
  if (configuredUrl === '') return false;
  let tenant: string;
  try {
    tenant = new URL(configuredUrl).pathname.split('/')[1] ?? '';
  } catch {
    return false;
  }
  const trim = (u: string) => u.replace(/\/+$/, '');
  return tenant !== '' && !AZURE_MULTI_TENANT.has(tenant.toLowerCase()) && trim(configuredUrl) === trim(iss);
}

/**
 * Whether the provider vouches for the address (GoTrue's oidc.go): Apple sends email_verified as a
 * string; Azure says it with xms_edov. Without that claim GoTrue counts Azure addresses as verified;
 * Trellis does only for a single-tenant setup, since in a multi-tenant one any tenant's
 * administrator sets `email` (the "nOAuth" takeover).
 */
function emailVerified(provider: string, token: Record<string, unknown>, email: string, single: boolean): boolean {
  if (email === '') return false;
  if (provider === 'azure') {
    const edov = token.xms_edov;
    if (edov === undefined || edov === null) return single;
    return edov === true || edov === '1' || edov === 'true' || edov === 1;
  }
  return token.email_verified === true || token.email_verified === 'true';
}

/**
 * The user an ID token (or OIDC userinfo) of `provider` describes; `configuredUrl` is the
 * provider's `url` setting (for Azure, whether it names a single tenant).
 */
export function oidcUser(provider: string, token: Record<string, unknown>, configuredUrl = ''): ProviderUser {
  const email = str(token.email);
  const single = provider === 'azure' && azureSingleTenant(configuredUrl, str(token.iss));
  const verified = emailVerified(provider, token, email, single);
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
    // Any tenant's administrator chooses its users' `email`: never a key to someone's account.
    ...(provider === 'azure' && !single ? { noEmailLinking: true } : {}),
  };
}

/** Apple's form post names the user on the first sign-in only (`user={"name":{…}}`), not in the token. */
export function withAppleName(user: ProviderUser, posted: string | null): ProviderUser {
  if (!posted || posted.length > 4096) return user;
  try {
    const name = obj(obj(JSON.parse(posted) as unknown).name);
    const full = `${str(name.firstName)} ${str(name.lastName)}`.trim();
    return full ? { ...user, metadata: { ...user.metadata, name: full, full_name: full } } : user;
  } catch {
    return user;
  }
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
