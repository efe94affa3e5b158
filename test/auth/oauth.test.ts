/**
 * The pure parts of OAuth sign-in: provider specs and profiles, the address picked, the signed
 * state, Azure's tenancy, and the bounded caches (discovery against a loopback issuer).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { describe, expect, test } from 'vitest';
import type { ExternalProviderConfig } from '../../src/config.js';
import { candidateEmail } from '../../src/auth/oauth/accounts.js';
import { discover, DISCOVERY_CACHE_MAX } from '../../src/auth/oauth/client.js';
import { LruCache } from '../../src/auth/oauth/lru.js';
import { azureSingleTenant, oidcUser, providerSpec, withAppleName } from '../../src/auth/oauth/providers.js';
import { flowNonce, signState, verifyState } from '../../src/auth/oauth/state.js';

const config = (name: string, url = ''): ExternalProviderConfig => ({
  id: name,
  name,
  enabled: true,
  clientIds: ['id'],
  secret: 's',
  redirectUri: '',
  url,
  skipNonceCheck: false,
  emailOptional: false,
  custom: false,
});
const secret = new TextEncoder().encode('a-secret-of-at-least-thirty-two-characters');

describe('providerSpec', () => {
  test.each([
    ['google', '', { kind: 'oidc', issuer: 'https://accounts.google.com' }],
    ['apple', '', { kind: 'oidc', issuer: 'https://appleid.apple.com', formPost: true }],
    ['keycloak', 'https://id.example/realms/app', { kind: 'oidc', issuer: 'https://id.example/realms/app' }],
    ['github', '', { kind: 'oauth2', authorizeUrl: 'https://github.com/login/oauth/authorize', scopes: 'user:email' }],
    ['github', 'http://ghe.local', { tokenUrl: 'http://ghe.local/login/oauth/access_token' }],
    ['x', '', { kind: 'oauth2', pkce: true, basicAuth: true }],
    ['gitlab', 'https://git.example', { authorizeUrl: 'https://git.example/oauth/authorize' }],
  ])('%s (url %j)', (name, url, expected) => {
    expect(providerSpec(config(name, url))).toMatchObject(expected);
  });

  test("GitHub's profile: its id, login and every address it lists", async () => {
    const spec = providerSpec(config('github', 'http://ghe.local'));
    if (spec.kind !== 'oauth2') throw new Error('expected an OAuth 2.0 spec');
    const asked: string[] = [];
    const user = await spec.profile(async (url) => {
      asked.push(url);
      return url.endsWith('/emails')
        ? [
            { email: 'a@x.test', primary: false, verified: true },
            { email: 'b@x.test', primary: true, verified: false },
          ]
        : { id: 9, login: 'nine', name: '', avatar_url: 'http://img/9' };
    }, 'token');
    expect(asked).toEqual(['http://ghe.local/api/v3/user', 'http://ghe.local/api/v3/user/emails']);
    expect(user.subject).toBe('9');
    expect(user.metadata).toEqual({
      iss: 'http://ghe.local/api/v3',
      sub: '9',
      preferred_username: 'nine',
      picture: 'http://img/9',
      provider_id: '9',
      avatar_url: 'http://img/9',
      user_name: 'nine',
    });
    expect(candidateEmail(user)).toEqual({ email: 'b@x.test', verified: false });
  });
});

describe('oidcUser', () => {
  test('reads the standard claims and leaves empty ones out', () => {
    expect(
      oidcUser('custom:x', {
        iss: 'https://i',
        sub: 's1',
        aud: ['a', 'b'],
        email: 'S@X.test',
        email_verified: 'true',
        name: '',
      }),
    ).toEqual({
      subject: 's1',
      emails: [{ email: 'S@X.test', verified: true, primary: true }],
      metadata: { iss: 'https://i', sub: 's1', aud: 'a', email: 'S@X.test', email_verified: true, provider_id: 's1' },
    });
  });

  test('an unverified or missing address', () => {
    expect(oidcUser('custom:x', { sub: 's', email: 'e@x.test' }).emails).toEqual([
      { email: 'e@x.test', verified: false, primary: true },
    ]);
    expect(oidcUser('custom:x', { sub: 's' }).emails).toEqual([]);
  });
});

describe('whose address counts as verified', () => {
  test.each<[string, Record<string, unknown>, boolean]>([
    ['apple', { email_verified: 'true' }, true],
    ['apple', { email_verified: 'false' }, false],
    ['google', { email_verified: true }, true],
    ['google', {}, false],
    ['azure', {}, false],
    ['azure', { xms_edov: '1' }, true],
    ['azure', { xms_edov: false }, false],
    ['azure', { xms_edov: '0' }, false],
  ])('%s %j', (provider, extra, verified) => {
    expect(oidcUser(provider, { sub: 's', email: 'e@x.test', ...extra }).emails[0]?.verified).toBe(verified);
  });

  test("Apple's posted name fills name and full_name; garbage is ignored", () => {
    const user = oidcUser('apple', { sub: 's', email: 'e@x.test' });
    expect(withAppleName(user, '{"name":{"firstName":"Ada","lastName":"Lovelace"}}').metadata).toMatchObject({
      name: 'Ada Lovelace',
      full_name: 'Ada Lovelace',
    });
    expect(withAppleName(user, '{not json')).toBe(user);
    expect(withAppleName(user, null)).toBe(user);
  });
});

describe('candidateEmail', () => {
  test.each([
    [[], { email: '', verified: false }],
    [[{ email: 'A@X.test', verified: true, primary: false }], { email: 'a@x.test', verified: true }],
    [
      [
        { email: 'p@x.test', verified: true, primary: true },
        { email: 'q@x.test', verified: false, primary: false },
      ],
      { email: 'p@x.test', verified: true },
    ],
  ])('%j', (emails, expected) => {
    expect(candidateEmail({ subject: 's', emails, metadata: {} })).toEqual(expected);
  });
});

describe('the state', () => {
  test('round-trips the flow and provider', async () => {
    const state = await signState(secret, 'flow-1', 'github');
    expect(await verifyState(secret, state)).toEqual({ ok: true, flowId: 'flow-1', provider: 'github' });
  });

  test.each([
    [
      'another secret',
      () => signState(new TextEncoder().encode('another-secret-of-at-least-32-characters'), 'f', 'github'),
    ],
    [
      'an access token of the same secret',
      () =>
        new SignJWT({ sub: 'u', fid: 'f', provider: 'github' })
          .setProtectedHeader({ alg: 'HS256' })
          .setAudience('authenticated')
          .sign(secret),
    ],
    [
      'an altered payload',
      async () => {
        const [h, , sig] = (await signState(secret, 'f', 'github')).split('.');
        return `${h}.${Buffer.from('{"fid":"other","provider":"github","aud":"trellis:oauth-state"}').toString('base64url')}.${sig}`;
      },
    ],
    ['a huge value', async () => 'a'.repeat(5000)],
  ])('refuses %s', async (_name, make) => {
    expect(await verifyState(secret, await make())).toEqual({ ok: false, expired: false });
  });

  test('says when it expired', async () => {
    const old = await new SignJWT({ fid: 'f', provider: 'github' })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience('trellis:oauth-state')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(secret);
    expect(await verifyState(secret, old)).toEqual({ ok: false, expired: true });
  });

  test('the nonce is a keyed function of the flow', () => {
    expect(flowNonce(secret, 'a')).toBe(flowNonce(secret, 'a'));
    expect(flowNonce(secret, 'a')).not.toBe(flowNonce(secret, 'b'));
    expect(flowNonce(new TextEncoder().encode('x'.repeat(32)), 'a')).not.toBe(flowNonce(secret, 'a'));
  });
});

describe("Azure's tenancy", () => {
  const tenant = 'https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0';
  const other = 'https://login.microsoftonline.com/99999999-2222-3333-4444-555555555555/v2.0';
  test.each<[string, string, boolean]>([
    ['', tenant, false],
    ['https://login.microsoftonline.com/common/v2.0', tenant, false],
    ['https://login.microsoftonline.com/organizations/v2.0', tenant, false],
    ['https://login.microsoftonline.com/Consumers', tenant, false],
    [tenant, other, false],
    [tenant, tenant, true],
    [`${tenant}/`, tenant, true],
    ['not a url', 'not a url', false],
  ])('url %j, iss %j: single tenant %j', (url, iss, single) => {
    expect(azureSingleTenant(url, iss)).toBe(single);
  });

  test('multi-tenant: a missing xms_edov is unverified, and the address never links', () => {
    const user = oidcUser('azure', { sub: 's', iss: other, email: 'victim@x.test' }, '');
    expect(user.emails).toEqual([{ email: 'victim@x.test', verified: false, primary: true }]);
    expect(user.noEmailLinking).toBe(true);
    const vouched = oidcUser('azure', { sub: 's', iss: other, email: 'v@x.test', xms_edov: true }, tenant);
    expect([vouched.emails[0]?.verified, vouched.noEmailLinking]).toEqual([true, true]);
  });

  test("single tenant (url is the tenant's issuer): a missing xms_edov counts as verified, as on GoTrue", () => {
    const user = oidcUser('azure', { sub: 's', iss: tenant, email: 'e@x.test' }, tenant);
    expect(user.emails[0]?.verified).toBe(true);
    expect(user.noEmailLinking).toBeUndefined();
    expect(
      oidcUser('azure', { sub: 's', iss: tenant, email: 'e@x.test', xms_edov: false }, tenant).emails[0]?.verified,
    ).toBe(false);
  });

  test('other providers never set noEmailLinking', () => {
    expect(oidcUser('google', { sub: 's', email: 'e@x.test', email_verified: true }).noEmailLinking).toBeUndefined();
  });
});

describe('LruCache', () => {
  test('keeps the most recently used entries', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1); // a is now younger than b
    cache.set('c', 3);
    expect([cache.get('a'), cache.get('b'), cache.get('c'), cache.size]).toEqual([1, undefined, 3, 2]);
    cache.set('a', 10);
    expect([cache.get('a'), cache.size]).toEqual([10, 2]);
  });

  test('the discovery cache holds at most DISCOVERY_CACHE_MAX issuers', async () => {
    const asked = new Map<string, number>();
    const server = http.createServer((req, res) => {
      const tenant = (req.url ?? '').split('/')[1] ?? '';
      asked.set(tenant, (asked.get(tenant) ?? 0) + 1);
      const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${tenant}`;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer, authorization_endpoint: `${issuer}/auth`, jwks_uri: `${issuer}/jwks` }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await discover(`${base}/t0`);
      await discover(`${base}/t0`);
      expect(asked.get('t0')).toBe(1); // cached
      for (let i = 1; i <= DISCOVERY_CACHE_MAX; i++) await discover(`${base}/t${i}`);
      await discover(`${base}/t${DISCOVERY_CACHE_MAX}`);
      expect(asked.get(`t${DISCOVERY_CACHE_MAX}`)).toBe(1);
      // t0 was the least recently used of DISCOVERY_CACHE_MAX + 1 issuers: it went, and is fetched again.
      await discover(`${base}/t0`);
      expect(asked.get('t0')).toBe(2);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
