/**
 * The OAuth/OIDC providers of [auth.external.<name>] in config.toml and `AUTH_EXTERNAL_<NAME>_<KEY>`
 * in the environment (GoTrue's GOTRUE_EXTERNAL_<NAME>_<KEY> without its prefix). Pure: src/config.ts
 * hands in a lookup of raw values and gets the providers back. A name Trellis does not know as a
 * fixed provider is a generic OpenID Connect provider whose `url` is its issuer; clients name it
 * `custom:<name>`, as GoTrue names its custom providers.
 */
export const FIXED_PROVIDERS = [
  'apple',
  'azure',
  'discord',
  'facebook',
  'github',
  'gitlab',
  'google',
  'keycloak',
  'linkedin_oidc',
  'slack_oidc',
  'spotify',
  'twitter',
  'x',
] as const;

/** The keys of a provider's table, as the Supabase CLI writes them. */
export const PROVIDER_KEYS = [
  'enabled',
  'client_id',
  'secret',
  'redirect_uri',
  'url',
  'skip_nonce_check',
  'email_optional',
] as const;
export type ProviderKey = (typeof PROVIDER_KEYS)[number];

export interface ExternalProviderConfig {
  /** What clients send as `provider`: `github`, or `custom:<name>` for a generic OIDC provider. */
  readonly id: string;
  readonly name: string;
  readonly enabled: boolean;
  /** The first is sent to the provider; all are accepted as an ID token's audience. */
  readonly clientIds: readonly string[];
  readonly secret: string;
  /** The callback registered at the provider; empty: `<API URL>/auth/v1/callback`. */
  readonly redirectUri: string;
  /** The provider's base URL or issuer, overriding its default (GitHub Enterprise, a Keycloak realm, tests). */
  readonly url: string;
  readonly skipNonceCheck: boolean;
  readonly emailOptional: boolean;
  readonly custom: boolean;
}

export const NAME = /^[a-z][a-z0-9_-]{0,62}$/;

/** `AUTH_EXTERNAL_GITHUB_CLIENT_ID` for (github, client_id). */
export function providerEnvName(name: string, key: ProviderKey): string {
  return `AUTH_EXTERNAL_${name.toUpperCase().replace(/-/g, '_')}_${key.toUpperCase()}`;
}

/** The provider names an environment mentions (any AUTH_EXTERNAL_<NAME>_ENABLED). */
export function providerNamesInEnv(names: Iterable<string>): string[] {
  const found: string[] = [];
  for (const env of names) {
    const m = /^AUTH_EXTERNAL_([A-Z0-9_]+)_ENABLED$/.exec(env);
    if (m?.[1]) found.push(m[1].toLowerCase());
  }
  return found;
}

const truthy = (raw: string | undefined, key: string, problem: (key: string, msg: string) => never): boolean => {
  if (raw === undefined || raw === '') return false;
  const s = raw.toLowerCase();
  if (['true', '1', 'yes'].includes(s)) return true;
  if (['false', '0', 'no'].includes(s)) return false;
  return problem(key, 'must be true or false');
};

/**
 * One provider from its raw values (`get(key)`), checked: an enabled provider needs a client id (the
 * secret only for the redirect flow: an app that only sends ID tokens has none), a generic one an
 * http(s) issuer URL. `problem` throws.
 */
export function readProvider(
  name: string,
  get: (key: ProviderKey) => string | undefined,
  problem: (key: ProviderKey, message: string) => never,
): ExternalProviderConfig {
  const custom = !(FIXED_PROVIDERS as readonly string[]).includes(name);
  if (!NAME.test(name))
    return problem('enabled', `"${name}" is not a provider name (lower-case letters, digits, _ and -)`);
  const enabled = truthy(get('enabled'), 'enabled', problem as (k: string, m: string) => never);
  const clientIds = (get('client_id') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const url = (get('url') ?? '').trim().replace(/\/+$/, '');
  if (url !== '' && !/^https?:\/\/[^\s]+$/.test(url)) problem('url', 'must be an http:// or https:// URL');
  const redirectUri = (get('redirect_uri') ?? '').trim();
  if (redirectUri !== '' && !/^https?:\/\/[^\s]+$/.test(redirectUri))
    problem('redirect_uri', 'must be an http:// or https:// URL');
  if (enabled) {
    if (clientIds.length === 0) problem('client_id', 'must be set for an enabled provider');
    if ((custom || name === 'keycloak') && url === '')
      problem('url', `must be the issuer URL of the ${custom ? 'OpenID Connect provider' : 'Keycloak realm'}`);
  }
  return {
    id: custom ? `custom:${name}` : name,
    name,
    enabled,
    clientIds,
    secret: get('secret') ?? '',
    redirectUri,
    url,
    skipNonceCheck: truthy(get('skip_nonce_check'), 'skip_nonce_check', problem as (k: string, m: string) => never),
    emailOptional: truthy(get('email_optional'), 'email_optional', problem as (k: string, m: string) => never),
    custom,
  };
}
