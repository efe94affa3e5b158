/**
 * The webhook signing secret kept in .trellis/secrets.json (made on first start, added to an older
 * file, then stable) and the webhook settings.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { FatalError, describeFatal } from '../../src/errors.js';
import { loadOrCreateSecrets, webhookSigningKey } from '../../src/project/secrets.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-webhook-secret-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

test('a first start makes a whsec_ secret of 32 random bytes', async () => {
  const secrets = await loadOrCreateSecrets(dir);
  expect(secrets.webhookSecret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
  expect(webhookSigningKey(secrets.webhookSecret ?? '')).toHaveLength(32);
  expect((await loadOrCreateSecrets(dir)).webhookSecret).toBe(secrets.webhookSecret);
});

test('a secrets file from before webhooks gets one added, keeping the rest and its mode', async () => {
  const file = path.join(dir, 'secrets.json');
  const old = { jwtSecret: 'j'.repeat(40), dbPassword: 'p'.repeat(20) };
  await fs.writeFile(file, JSON.stringify(old), { mode: 0o600 });
  const secrets = await loadOrCreateSecrets(dir);
  expect(secrets).toMatchObject(old);
  expect(secrets.webhookSecret).toMatch(/^whsec_/);
  expect(JSON.parse(await fs.readFile(file, 'utf8'))).toEqual(secrets);
  expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
  expect((await loadOrCreateSecrets(dir)).webhookSecret).toBe(secrets.webhookSecret);
});

test.each([
  ['whsec_AAECAw==', [0, 1, 2, 3]],
  ['v1,whsec_AAECAw==', [0, 1, 2, 3]],
])('the key of %s', (secret, bytes) => {
  expect([...webhookSigningKey(secret)]).toEqual(bytes);
});

describe('the webhook settings', () => {
  const fail = (env: Record<string, string>): string => {
    try {
      loadConfig({}, env);
    } catch (err) {
      expect(err).toBeInstanceOf(FatalError);
      return describeFatal(err as FatalError);
    }
    throw new Error('expected loadConfig to fail');
  };

  test('defaults: a sender in every instance, 3 retries from 1 s, pg_net’s 6-hour TTL, no WEBHOOK_SECRET', () => {
    expect(loadConfig({}, {}).webhooks).toEqual({
      sender: true,
      concurrency: 16,
      pollIntervalMs: 5000,
      responseTtlS: 21_600,
      maxResponseBytes: 1_048_576,
      retries: 3,
      retryBackoffMs: 1000,
      secret: undefined,
    });
  });

  test('WEBHOOK_SECRET in either Standard Webhooks form is taken, and several for a rotation', () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    expect(loadConfig({}, { WEBHOOK_SECRET: secret }).webhooks.secret).toBe(secret);
    expect(loadConfig({}, { WEBHOOK_SECRET: `v1,${secret}` }).webhooks.secret).toBe(`v1,${secret}`);
    expect(loadConfig({}, { WEBHOOK_SECRET: `${secret} ${secret}` }).webhooks.secret).toBe(`${secret} ${secret}`);
  });

  test.each([
    [{ WEBHOOK_SECRET: 'hunter2-not-a-whsec-secret' }, /^WEBHOOK_SECRET: must be whsec_<base64>/],
    [{ WEBHOOK_RETRIES: '21' }, /^WEBHOOK_RETRIES: must be a whole number between 0 and 20/],
    [{ NET_CONCURRENCY: '0' }, /^NET_CONCURRENCY: must be a whole number/],
    [{ NET_SENDER: 'maybe' }, /^NET_SENDER: must be true or false/],
  ])('%j is refused, naming the variable', (env, message) => {
    const text = fail(env);
    expect(text).toMatch(message);
    expect(text).not.toContain('hunter2');
  });
});
