/** Auth hook targets: the URIs and secrets GoTrue accepts, and a start refused with a clear message. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { hookTarget, parseHookSecrets, parseHookUri } from '../../src/config/hooks.js';
import { FatalError, describeFatal } from '../../src/errors.js';

const SECRET = `v1,whsec_${Buffer.alloc(32, 7).toString('base64')}`;

describe('hook URIs', () => {
  test.each([
    [
      'pg-functions://postgres/public/custom_access_token_hook',
      { kind: 'pg', schema: 'public', fn: 'custom_access_token_hook' },
    ],
    ['pg-functions://postgres/auth_hooks/_f1', { kind: 'pg', schema: 'auth_hooks', fn: '_f1' }],
    ['https://hooks.example.com/token', { kind: 'http' }],
    ['http://localhost:3000/hook', { kind: 'http' }],
    ['http://127.0.0.1:9999/hook', { kind: 'http' }],
    ['http://[::1]:9999/hook', { kind: 'http' }],
    ['http://host.docker.internal:54321/functions/v1/hook', { kind: 'http' }],
  ])('accepts %s', (uri, expected) => expect(parseHookUri(uri)).toEqual(expected));

  test.each([
    ['not a URL', 'custom_access_token_hook', /must be pg-functions/],
    ['no function', 'pg-functions://postgres/public', /must be pg-functions/],
    ['a quoted schema', 'pg-functions://postgres/pub%22lic/fn', /invalid schema name/],
    ['a function name with a dot', 'pg-functions://postgres/public/a.b', /invalid function name/],
    ['a function name over 63 characters', `pg-functions://postgres/public/${'f'.repeat(64)}`, /invalid function name/],
    ['plain http to another machine', 'http://hooks.example.com/token', /localhost/],
    ['another scheme', 'ftp://example.com/hook', /only pg-functions/],
  ])('refuses %s', (_why, uri, message) => {
    const parsed = parseHookUri(uri);
    expect(typeof parsed).toBe('string');
    expect(parsed).toMatch(message);
  });
});

describe('hook secrets', () => {
  test('one or several v1,whsec_ secrets, | between them', () => {
    const keys = parseHookSecrets(`${SECRET}|v1,whsec_${Buffer.alloc(24, 1).toString('base64')}`);
    expect(Array.isArray(keys) && keys.map((k) => k.length)).toEqual([32, 24]);
  });

  test.each([
    ['no prefix', Buffer.alloc(32).toString('base64')],
    ['an asymmetric key (GoTrue cannot sign with it either)', `v1a,whpk_${'A'.repeat(44)}:whsk_${'A'.repeat(44)}`],
    ['too short', 'v1,whsec_abc'],
    ['not base64', `v1,whsec_${'!'.repeat(40)}`],
    ['a bad one after a good one', `${SECRET}|nonsense`],
  ])('refuses %s', (_why, secrets) => expect(parseHookSecrets(secrets)).toMatch(/invalid secret format/));

  test('an HTTP hook needs a secret; a Postgres one needs none; a disabled one is nothing', () => {
    expect(hookTarget(true, 'https://example.com/h', undefined)).toMatch(/needs secrets/);
    expect(hookTarget(true, 'pg-functions://postgres/public/f', undefined)).toMatchObject({ kind: 'pg' });
    expect(hookTarget(true, undefined, undefined)).toMatch(/no uri/);
    expect(hookTarget(false, 'nonsense', 'nonsense')).toBeUndefined();
  });
});

describe('start-up', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-hooks-'));
    fs.mkdirSync(path.join(dir, 'supabase'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const failure = (env: Record<string, string>): string => {
    try {
      loadConfig({ dir }, env);
    } catch (err) {
      expect(err).toBeInstanceOf(FatalError);
      return describeFatal(err as FatalError);
    }
    throw new Error('expected loadConfig to fail');
  };

  test('a bad secret in the environment ends the start, naming the variable and not the secret', () => {
    const message = failure({
      AUTH_HOOK_SEND_EMAIL_ENABLED: 'true',
      AUTH_HOOK_SEND_EMAIL_URI: 'https://mail.example.com/hook',
      AUTH_HOOK_SEND_EMAIL_SECRETS: 'whsec_topsecretvalue',
    });
    expect(message).toMatch(/AUTH_HOOK_SEND_EMAIL_SECRETS: invalid secret format/);
    expect(message).not.toContain('topsecretvalue');
  });

  test('a bad URI in config.toml ends the start, naming the file, line and key', () => {
    fs.writeFileSync(
      path.join(dir, 'supabase', 'config.toml'),
      '[auth.hook.custom_access_token]\nenabled = true\nuri = "pg-functions://postgres/public/bad-name"\n',
    );
    expect(failure({})).toMatch(/config\.toml line 3 \(auth\.hook\.custom_access_token\.uri\): invalid function name/);
  });

  test('config.toml hooks with secrets from env() are applied', () => {
    fs.writeFileSync(
      path.join(dir, 'supabase', 'config.toml'),
      '[auth.hook.send_email]\nenabled = true\nuri = "http://localhost:9000/mail"\nsecrets = "env(MAIL_HOOK_SECRET)"\n' +
        '[auth.hook.before_user_created]\nenabled = true\nuri = "pg-functions://postgres/public/x"\n',
    );
    const config = loadConfig({ dir }, { MAIL_HOOK_SECRET: SECRET });
    expect(config.auth.hooks.targets.sendEmail).toMatchObject({ kind: 'http', url: 'http://localhost:9000/mail' });
    expect(config.auth.hooks.targets.customAccessToken).toBeUndefined();
    expect(config.configFile?.unapplied).toEqual([
      'auth.hook.before_user_created.enabled',
      'auth.hook.before_user_created.uri',
    ]);
  });
});
