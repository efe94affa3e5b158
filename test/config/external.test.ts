/** OAuth providers from AUTH_EXTERNAL_<NAME>_<KEY>: the fixed ones, generic OIDC ones, and bad values. */
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { FatalError, describeFatal } from '../../src/errors.js';

const fail = (env: Record<string, string>) => {
  try {
    loadConfig({}, env);
  } catch (err) {
    expect(err).toBeInstanceOf(FatalError);
    return describeFatal(err as FatalError);
  }
  throw new Error('expected loadConfig to fail');
};

describe('external providers', () => {
  test('every fixed provider is there, off by default', () => {
    const external = loadConfig({}, {}).auth.external;
    expect(Object.keys(external)).toEqual(expect.arrayContaining(['github', 'google', 'apple', 'keycloak', 'x']));
    expect(Object.values(external).every((p) => !p.enabled)).toBe(true);
  });

  test('a provider from the environment, with several client ids', () => {
    const github = loadConfig(
      {},
      {
        AUTH_EXTERNAL_GITHUB_ENABLED: 'true',
        AUTH_EXTERNAL_GITHUB_CLIENT_ID: 'web, ios',
        AUTH_EXTERNAL_GITHUB_SECRET: 's',
        AUTH_EXTERNAL_GITHUB_URL: 'https://github.example.com/',
      },
    ).auth.external.github;
    expect(github).toMatchObject({
      id: 'github',
      enabled: true,
      clientIds: ['web', 'ios'],
      url: 'https://github.example.com',
      custom: false,
    });
  });

  test('an unknown name is a generic OpenID Connect provider, custom:<name>', () => {
    const external = loadConfig(
      {},
      {
        AUTH_EXTERNAL_ACME_ID_ENABLED: 'yes',
        AUTH_EXTERNAL_ACME_ID_CLIENT_ID: 'c',
        AUTH_EXTERNAL_ACME_ID_URL: 'https://id.acme.test',
      },
    ).auth.external;
    expect(external['custom:acme_id']).toMatchObject({ enabled: true, custom: true, url: 'https://id.acme.test' });
  });

  test.each([
    [{ AUTH_EXTERNAL_GITHUB_ENABLED: 'maybe' }, 'AUTH_EXTERNAL_GITHUB_ENABLED: must be true or false'],
    [{ AUTH_EXTERNAL_GITHUB_ENABLED: 'true' }, 'AUTH_EXTERNAL_GITHUB_CLIENT_ID: must be set for an enabled provider'],
    [
      { AUTH_EXTERNAL_ACME_ENABLED: 'true', AUTH_EXTERNAL_ACME_CLIENT_ID: 'c' },
      'AUTH_EXTERNAL_ACME_URL: must be the issuer URL of the OpenID Connect provider',
    ],
    [
      { AUTH_EXTERNAL_KEYCLOAK_ENABLED: 'true', AUTH_EXTERNAL_KEYCLOAK_CLIENT_ID: 'c' },
      'AUTH_EXTERNAL_KEYCLOAK_URL: must be the issuer URL of the Keycloak realm',
    ],
    [{ AUTH_EXTERNAL_GITHUB_URL: 'ftp://x' }, 'AUTH_EXTERNAL_GITHUB_URL: must be an http:// or https:// URL'],
  ])('refuses %j', (env, message) => {
    expect(fail(env)).toBe(message);
  });
});
