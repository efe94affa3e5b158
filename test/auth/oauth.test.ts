/** The pure parts of OAuth sign-in: provider specs and profiles, the address picked, the signed state. */
import { SignJWT } from 'jose';
import { describe, expect, test } from 'vitest';
import type { ExternalProviderConfig } from '../../src/config.js';
import { candidateEmail } from '../../src/auth/oauth/accounts.js';
import { oidcUser, providerSpec, withAppleName } from '../../src/auth/oauth/providers.js';
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
    ['azure', {}, true],
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
