/** The webhook signing secret kept in .trellis/secrets.json: made on first start, added to an older file, then stable. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
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
