/**
 * Trellis as an OAuth client of a provider: discovery, the authorization URL, the code exchange and
 * the user behind the tokens, through oauth4webapi (which checks the token response, the ID token's
 * issuer, audience, expiry and nonce). Discovered metadata is cached in process for an hour: it is
 * the provider's, and every instance fetches the same. At most DISCOVERY_CACHE_MAX issuers are kept.
 */
import * as oauth from 'oauth4webapi';
import type { ExternalProviderConfig } from '../../config.js';
import { LruCache } from './lru.js';
import { oidcUser, providerSpec, type ProviderUser } from './providers.js';

const DISCOVERY_TTL_MS = 3_600_000;
const TIMEOUT_MS = 10_000;
/** Issuers kept at once: each Azure tenant is an issuer, and callers choose the tenant. */
export const DISCOVERY_CACHE_MAX = 100;
const discovered = new LruCache<string, { at: number; as: oauth.AuthorizationServer }>(DISCOVERY_CACHE_MAX);

const insecure = (url: string) => (url.startsWith('http:') ? { [oauth.allowInsecureRequests]: true } : {});

/** An OIDC issuer's metadata (its `issuer` must be the URL asked for, as OIDC Discovery requires). */
export async function discover(issuer: string): Promise<oauth.AuthorizationServer> {
  const cached = discovered.get(issuer);
  if (cached && Date.now() - cached.at < DISCOVERY_TTL_MS) return cached.as;
  const url = new URL(issuer);
  const response = await oauth.discoveryRequest(url, {
    algorithm: 'oidc',
    signal: AbortSignal.timeout(TIMEOUT_MS),
    ...insecure(issuer),
  });
  const as = await oauth.processDiscoveryResponse(url, response);
  discovered.set(issuer, { at: Date.now(), as });
  return as;
}

async function server(config: ExternalProviderConfig): Promise<oauth.AuthorizationServer> {
  const spec = providerSpec(config);
  if (spec.kind === 'oidc') return discover(spec.issuer);
  return {
    issuer: new URL(spec.authorizeUrl).origin,
    authorization_endpoint: spec.authorizeUrl,
    token_endpoint: spec.tokenUrl,
  };
}

export interface AuthorizeRequest {
  readonly state: string;
  readonly redirectUri: string;
  readonly scopes: string;
  readonly nonce: string | undefined;
  readonly codeVerifier: string | undefined;
  /** The caller's other query parameters, passed on (GoTrue passes all but its reserved ones). */
  readonly extra: ReadonlyArray<readonly [string, string]>;
}

/** Whether the provider gets a PKCE challenge of Trellis's own (OIDC providers and X). */
export function usesPkce(config: ExternalProviderConfig): boolean {
  const spec = providerSpec(config);
  return spec.kind === 'oidc' || spec.pkce;
}

export async function authorizationUrl(config: ExternalProviderConfig, request: AuthorizeRequest): Promise<string> {
  const spec = providerSpec(config);
  const as = await server(config);
  if (!as.authorization_endpoint) throw new Error('the provider names no authorization endpoint');
  const url = new URL(as.authorization_endpoint);
  for (const [key, value] of request.extra) url.searchParams.set(key, value);
  url.searchParams.set('client_id', config.clientIds[0] ?? '');
  url.searchParams.set('redirect_uri', request.redirectUri);
  url.searchParams.set('response_type', 'code');
  // Scopes the app asks for come on top of the provider's defaults, as in GoTrue.
  const scopes = [...new Set([...spec.scopes.split(' '), ...request.scopes.split(/[\s,]+/)].filter((s) => s))];
  url.searchParams.set('scope', scopes.join(' '));
  url.searchParams.set('state', request.state);
  if (request.nonce) url.searchParams.set('nonce', request.nonce);
  if (spec.kind === 'oidc' && spec.formPost) url.searchParams.set('response_mode', 'form_post');
  if (request.codeVerifier) {
    url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(request.codeVerifier));
    url.searchParams.set('code_challenge_method', 'S256');
  }
  return url.href;
}

export interface Exchanged {
  readonly user: ProviderUser;
  readonly accessToken: string;
  readonly refreshToken: string;
}

/** Why an exchange failed, in GoTrue's two messages. */
export class ExchangeError extends Error {
  constructor(
    readonly stage: 'code' | 'profile',
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'ExchangeError';
  }
}

/** Swaps the callback's code for tokens, then reads the user (ID token claims, or the profile API). */
export async function exchangeCode(
  config: ExternalProviderConfig,
  callback: URLSearchParams,
  redirectUri: string,
  codeVerifier: string | undefined,
  nonce: string | undefined,
): Promise<Exchanged> {
  const spec = providerSpec(config);
  let tokens: oauth.TokenEndpointResponse;
  let as: oauth.AuthorizationServer;
  try {
    as = await server(config);
    const client: oauth.Client = { client_id: config.clientIds[0] ?? '' };
    const auth =
      spec.kind === 'oauth2' && spec.basicAuth
        ? oauth.ClientSecretBasic(config.secret)
        : oauth.ClientSecretPost(config.secret);
    // The state was checked already (a signed value oauth4webapi does not know); `iss` is checked
    // when the provider sends it (RFC 9207).
    const params = oauth.validateAuthResponse(as, client, callback, oauth.skipStateCheck);
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      auth,
      params,
      redirectUri,
      codeVerifier ?? oauth.nopkce,
      { signal: AbortSignal.timeout(TIMEOUT_MS), ...insecure(as.token_endpoint ?? '') },
    );
    tokens = await oauth.processAuthorizationCodeResponse(as, client, response, {
      ...(spec.kind === 'oidc' ? { requireIdToken: true, expectedNonce: nonce ?? oauth.expectNoNonce } : {}),
    });
  } catch (err) {
    throw new ExchangeError('code', err);
  }
  try {
    const user =
      spec.kind === 'oidc'
        ? oidcUser(config.name, oauth.getValidatedIdTokenClaims(tokens) as Record<string, unknown>, config.url)
        : await spec.profile(getJson, tokens.access_token);
    if (user.subject === '') throw new Error('the provider named no user id');
    return { user, accessToken: tokens.access_token, refreshToken: tokens.refresh_token ?? '' };
  } catch (err) {
    throw new ExchangeError('profile', err);
  }
}

async function getJson(url: string, accessToken: string): Promise<unknown> {
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json', 'user-agent': 'trellis' },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}
