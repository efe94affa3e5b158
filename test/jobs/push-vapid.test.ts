/** The VAPID Authorization header (src/jobs/push/vapid.ts): signed once per push service, renewed before it expires. */
import { decodeJwt } from 'jose';
import webpush from 'web-push';
import { describe, expect, test } from 'vitest';
import { vapidAuthorizer } from '../../src/jobs/push/vapid.js';

const keys = { ...webpush.generateVAPIDKeys(), subject: 'mailto:ops@example.com' };
const token = (header: string) => decodeJwt(/t=([^,]+)/.exec(header)![1]!);

describe('vapidAuthorizer', () => {
  test("a token per origin, its aud the endpoint's origin, with the project's key and subject", () => {
    const authorize = vapidAuthorizer(keys, () => 1_000_000_000_000);
    const a = authorize('https://push.example.com/send/abc');
    expect(a).toMatch(new RegExp(`^vapid t=[\\w-]+\\.[\\w-]+\\.[\\w-]+, k=${keys.publicKey}$`));
    expect(token(a)).toMatchObject({
      aud: 'https://push.example.com',
      sub: 'mailto:ops@example.com',
      exp: 1_000_000_000 + 12 * 3600,
    });
    expect(authorize('https://push.example.com/send/other')).toBe(a);
    expect(token(authorize('https://fcm.googleapis.com/fcm/send/x')).aud).toBe('https://fcm.googleapis.com');
  });

  test('kept until an hour before it expires, then signed again', () => {
    let now = 1_000_000_000_000;
    const authorize = vapidAuthorizer(keys, () => now);
    const first = authorize('https://push.example.com/a');
    now += 10 * 3600 * 1000;
    expect(authorize('https://push.example.com/a')).toBe(first);
    now += 1.5 * 3600 * 1000;
    const renewed = authorize('https://push.example.com/a');
    expect(renewed).not.toBe(first);
    expect(token(renewed).exp).toBe(Math.floor(now / 1000) + 12 * 3600);
  });
});
