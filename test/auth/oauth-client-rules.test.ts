/** What an OAuth client registration may say: GoTrue's rules and defaults, by table. */
import { describe, expect, test } from 'vitest';
import { checkRegistration, type Registration } from '../../src/auth/oauth-client-rules.js';
import { authorizeProblem } from '../../src/auth/oauth-server.js';
import { ApiError } from '../../src/errors.js';

const ok = ['https://app.example/cb'];

function problem(body: Registration): string | undefined {
  try {
    checkRegistration(body);
    return undefined;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    expect(err.status).toBe(400);
    return err.message;
  }
}

describe('checkRegistration', () => {
  test('defaults: confidential, client_secret_basic, both grants', () => {
    expect(checkRegistration({ redirect_uris: ok })).toEqual({
      redirectUris: ok,
      grantTypes: ['authorization_code', 'refresh_token'],
      clientType: 'confidential',
      tokenEndpointAuthMethod: 'client_secret_basic',
      clientName: '',
      clientUri: '',
      logoUri: '',
    });
  });

  test.each<[string, Registration, Partial<ReturnType<typeof checkRegistration>>]>([
    [
      'auth method none makes a public client',
      { redirect_uris: ok, token_endpoint_auth_method: 'none' },
      { clientType: 'public' },
    ],
    [
      'a public client authenticates with none',
      { redirect_uris: ok, client_type: 'public' },
      { tokenEndpointAuthMethod: 'none' },
    ],
    [
      'loopback http is allowed',
      { redirect_uris: ['http://127.0.0.1:8000/cb', 'http://localhost/cb', 'http://[::1]/cb'] },
      {},
    ],
    ['a native app scheme is allowed', { redirect_uris: ['com.example.app://callback'] }, {}],
    [
      'web client_uri and logo_uri',
      { redirect_uris: ok, client_uri: 'https://app.example', logo_uri: 'http://localhost/logo.png' },
      { clientUri: 'https://app.example' },
    ],
    ['refresh_token alone', { redirect_uris: ok, grant_types: ['refresh_token'] }, { grantTypes: ['refresh_token'] }],
  ])('%s', (_name, body, expected) => {
    expect(checkRegistration(body)).toMatchObject(expected);
  });

  test.each<[string, Registration, string]>([
    ['missing redirect_uris', {}, 'redirect_uris is required'],
    ['http to a remote host', { redirect_uris: ['http://app.example/cb'] }, 'HTTP scheme only allowed for localhost'],
    ['data: uri', { redirect_uris: ['data:text/html;x'] }, "scheme 'data' is not allowed"],
    ['no host', { redirect_uris: ['https:///cb'] }, 'must have scheme and host'],
    ['not a URL', { redirect_uris: ['cb'] }, 'must have scheme and host'],
    ['a fragment', { redirect_uris: ['https://a.example/cb#f'] }, 'fragment not allowed'],
    ['a comma (they are stored comma-separated)', { redirect_uris: ['https://a.example/a,b'] }, 'comma'],
    ['a control character', { redirect_uris: ['https://a.example/\n'] }, 'invalid URL format'],
    ['empty grant_types', { redirect_uris: ok, grant_types: [] }, 'grant_types cannot be empty'],
    ['implicit grant', { redirect_uris: ok, grant_types: ['implicit'] }, 'grant_types must only contain'],
    [
      'public with a secret method',
      { redirect_uris: ok, client_type: 'public', token_endpoint_auth_method: 'client_secret_post' },
      "'none'",
    ],
    [
      'confidential with none',
      { redirect_uris: ok, client_type: 'confidential', token_endpoint_auth_method: 'none' },
      "'none'",
    ],
    [
      'an unknown method',
      { redirect_uris: ok, token_endpoint_auth_method: 'private_key_jwt' },
      'token_endpoint_auth_method must be one of',
    ],
    [
      'a long client_uri',
      { redirect_uris: ok, client_uri: `https://a.example/${'x'.repeat(2048)}` },
      'cannot exceed 2048',
    ],
    ['a javascript: client_uri', { redirect_uris: ok, client_uri: 'javascript:alert(1)' }, "scheme 'javascript'"],
    ['a data: logo_uri', { redirect_uris: ok, logo_uri: 'data:image/svg+xml,<svg/>' }, "scheme 'data'"],
    ['a custom-scheme logo_uri', { redirect_uris: ok, logo_uri: 'com.example.app://logo' }, 'use https'],
  ])('refuses %s', (_name, body, message) => {
    expect(problem(body)).toContain(message);
  });
});

describe('authorizeProblem', () => {
  const challenge = 'c'.repeat(43);
  test.each<[string, Parameters<typeof authorizeProblem>[0], string | undefined]>([
    ['a good request', { code_challenge: challenge, code_challenge_method: 'S256' }, undefined],
    ['plain PKCE', { code_challenge: challenge, code_challenge_method: 'plain', scope: 'openid email' }, undefined],
    ['no PKCE', {}, 'PKCE flow requires both code_challenge and code_challenge_method'],
    [
      'a short challenge',
      { code_challenge: 'c', code_challenge_method: 'S256' },
      'code_challenge must be between 43 and 128 characters',
    ],
    [
      'md5',
      { code_challenge: challenge, code_challenge_method: 'md5' },
      "code_challenge_method must be 'S256' or 'plain'",
    ],
    ['the implicit flow', { response_type: 'token' }, 'only response_type=code is supported'],
    ['an unknown scope', { scope: 'email admin' }, 'unsupported scope: admin'],
    [
      'a relative resource',
      { resource: '/api', code_challenge: challenge, code_challenge_method: 'S256' },
      'resource must be an absolute URI without a fragment',
    ],
    ['a huge scope', { scope: 'email '.repeat(200) }, 'scope is too long'],
    ['a huge resource', { resource: `https://api.example/${'r'.repeat(2048)}` }, 'resource is too long'],
  ])('%s', (_name, query, problem) => {
    expect(authorizeProblem(query)).toBe(problem);
  });
});
