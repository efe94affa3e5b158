/**
 * What an OAuth client registration may say (GoTrue's oauthserver validation, RFC 7591 fields):
 * pure, so each rule is tested by table (test/auth/oauth-client-rules.test.ts).
 */
import { errors } from './errors.js';

export interface ClientFields {
  readonly redirectUris: readonly string[];
  readonly grantTypes: readonly string[];
  readonly clientType: 'public' | 'confidential';
  readonly tokenEndpointAuthMethod: 'none' | 'client_secret_basic' | 'client_secret_post';
  readonly clientName: string;
  readonly clientUri: string;
  readonly logoUri: string;
}

export interface Registration {
  readonly redirect_uris?: readonly string[] | undefined;
  readonly client_type?: string | undefined;
  readonly token_endpoint_auth_method?: string | undefined;
  readonly grant_types?: readonly string[] | undefined;
  readonly client_name?: string | undefined;
  readonly client_uri?: string | undefined;
  readonly logo_uri?: string | undefined;
}

const AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post'] as const;
const DANGEROUS_SCHEMES = ['javascript:', 'data:', 'file:', 'vbscript:', 'about:', 'blob:'];
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const show = (s: string) => s.slice(0, 200);

function redirectProblem(uri: string): string | undefined {
  if (uri === '') return 'redirect URI cannot be empty';
  if (/[\u0000-\u001f\u007f]/.test(uri)) return 'invalid URL format';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'must have scheme and host';
  }
  if (DANGEROUS_SCHEMES.includes(url.protocol.toLowerCase()))
    return `scheme '${url.protocol.slice(0, -1)}' is not allowed for security reasons`;
  // Checked on the text too: WHATWG parsing turns `https:///cb` into host `cb`; GoTrue's Go parser does not.
  if (url.host === '' || !/^[a-z][a-z0-9+.-]*:\/\/[^/?#]/i.test(uri)) return 'must have scheme and host';
  // Plain http only to the user's own machine (native apps' loopback redirects, RFC 8252).
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname)) return 'HTTP scheme only allowed for localhost';
  if (url.hash !== '' || uri.includes('#')) return 'fragment not allowed in redirect URI';
  return undefined;
}

export function checkRedirectUris(uris: readonly string[], required: boolean): void {
  if (uris.length === 0)
    throw errors.validation(required ? 'redirect_uris is required' : 'redirect_uris cannot be empty');
  if (uris.length > 10) throw errors.validation('redirect_uris cannot exceed 10 items');
  for (const uri of uris) {
    if (uri.length > 2048) throw errors.validation('redirect_uri cannot exceed 2048 characters');
    // Stored comma-separated, as GoTrue stores them: a comma would split one URI into two.
    const problem = uri.includes(',') ? 'must not contain a comma' : redirectProblem(uri);
    if (problem) throw errors.validation(`invalid redirect_uri '${show(uri)}': ${problem}`);
  }
}

function checkUrl(name: 'client_uri' | 'logo_uri', value: string): void {
  if (value === '') return;
  if (value.length > 2048) throw errors.validation(`${name} cannot exceed 2048 characters`);
  let ok = !/[\u0000-\u001f\u007f]/.test(value);
  let protocol = '';
  try {
    protocol = new URL(value).protocol;
  } catch {
    ok = false;
  }
  if (!ok || protocol === '') throw errors.validation(`${name} must be a valid URL`);
  // Shown as a link and an image on the app's consent page: a web address only, never `javascript:`.
  if (protocol !== 'https:' && protocol !== 'http:')
    throw errors.validation(`${name} scheme '${show(protocol.slice(0, -1))}' is not allowed, use https`);
}

/** The registration's fields with GoTrue's defaults, or the 400 validation_failed it earns. */
export function checkRegistration(body: Registration): ClientFields {
  checkRedirectUris(body.redirect_uris ?? [], true);
  const grantTypes = body.grant_types?.length ? body.grant_types : ['authorization_code', 'refresh_token'];
  if (body.grant_types !== undefined && body.grant_types.length === 0)
    throw errors.validation('grant_types cannot be empty');
  if (grantTypes.some((g) => g !== 'authorization_code' && g !== 'refresh_token'))
    throw errors.validation("grant_types must only contain 'authorization_code' and/or 'refresh_token'");
  const clientName = body.client_name ?? '';
  if (clientName.length > 1024) throw errors.validation('client_name cannot exceed 1024 characters');
  if (clientName.includes('\u0000')) throw errors.validation('client_name must not contain NUL characters');
  checkUrl('client_uri', body.client_uri ?? '');
  checkUrl('logo_uri', body.logo_uri ?? '');
  const type = body.client_type ?? '';
  if (type !== '' && type !== 'public' && type !== 'confidential')
    throw errors.validation("client_type must be 'public' or 'confidential'");
  const method = body.token_endpoint_auth_method ?? '';
  if (method !== '' && !(AUTH_METHODS as readonly string[]).includes(method))
    throw errors.validation(`token_endpoint_auth_method must be one of: [${AUTH_METHODS.join(' ')}]`);
  // A public client has no secret to authenticate with; a confidential one must use its secret.
  if (type === 'public' && method !== '' && method !== 'none')
    throw errors.validation(`public clients must use token_endpoint_auth_method 'none'`);
  if (type === 'confidential' && method === 'none')
    throw errors.validation(`confidential clients cannot use token_endpoint_auth_method 'none'`);
  const clientType = type !== '' ? type : method === 'none' ? 'public' : 'confidential';
  return {
    redirectUris: body.redirect_uris ?? [],
    grantTypes,
    clientType,
    tokenEndpointAuthMethod: (method !== ''
      ? method
      : clientType === 'public'
        ? 'none'
        : 'client_secret_basic') as ClientFields['tokenEndpointAuthMethod'],
    clientName,
    clientUri: body.client_uri ?? '',
    logoUri: body.logo_uri ?? '',
  };
}
