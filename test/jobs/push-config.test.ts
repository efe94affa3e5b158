/** Web push's settings (src/config/settings.ts, docs/configuration.md): both VAPID keys or neither, each checked. */
import webpush from 'web-push';
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { FatalError, describeFatal } from '../../src/errors.js';

const keys = webpush.generateVAPIDKeys();

function refusal(env: Record<string, string>): string {
  try {
    loadConfig({}, env);
  } catch (err) {
    expect(err).toBeInstanceOf(FatalError);
    return describeFatal(err as FatalError);
  }
  throw new Error('the configuration was accepted');
}

describe('push settings', () => {
  test('unset: no keys (the database keeps a pair), a placeholder subject, a 10 s timeout', () => {
    expect(loadConfig({}, {}).push).toEqual({ subject: 'mailto:admin@localhost', timeoutMs: 10_000 });
  });

  test('set: the pair, the subject, the CA file', () => {
    const config = loadConfig(
      {},
      {
        PUSH_VAPID_PUBLIC_KEY: keys.publicKey,
        PUSH_VAPID_PRIVATE_KEY: keys.privateKey,
        PUSH_VAPID_SUBJECT: 'https://example.com/contact',
        PUSH_TIMEOUT_MS: '2500',
        PUSH_CA_FILE: '/etc/ssl/private-push.pem',
      },
    );
    expect(config.push).toEqual({
      vapid: { publicKey: keys.publicKey, privateKey: keys.privateKey },
      subject: 'https://example.com/contact',
      timeoutMs: 2500,
      caFile: '/etc/ssl/private-push.pem',
    });
  });

  test.each([
    [{ PUSH_VAPID_PUBLIC_KEY: keys.publicKey }, /PUSH_VAPID_PRIVATE_KEY.*set together/],
    [{ PUSH_VAPID_PRIVATE_KEY: keys.privateKey }, /PUSH_VAPID_PUBLIC_KEY.*set together/],
    [
      { PUSH_VAPID_PUBLIC_KEY: 'short', PUSH_VAPID_PRIVATE_KEY: keys.privateKey },
      /PUSH_VAPID_PUBLIC_KEY.*P-256 public key/,
    ],
    [
      { PUSH_VAPID_PUBLIC_KEY: keys.publicKey, PUSH_VAPID_PRIVATE_KEY: 'x' },
      /PUSH_VAPID_PRIVATE_KEY.*P-256 private key/,
    ],
    [{ PUSH_VAPID_SUBJECT: 'admin@example.com' }, /PUSH_VAPID_SUBJECT.*mailto: or https:\/\//],
    [{ PUSH_TIMEOUT_MS: '5' }, /PUSH_TIMEOUT_MS.*between 100 and 120000/],
  ])('%o is refused', (env, message) => {
    expect(refusal(env)).toMatch(message);
  });
});
