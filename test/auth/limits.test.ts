/** The auth endpoints' rate-limit rules, from config. */
import { describe, expect, test } from 'vitest';
import { authLimits } from '../../src/auth/limits.js';
import { loadConfig } from '../../src/config.js';

describe('authLimits', () => {
  test('the defaults: per 5 minutes for sign-in, refresh and verify, per hour for mail and anonymous users', () => {
    expect(authLimits(loadConfig({}, {}))).toEqual({
      signIn: { name: 'auth_sign_in', points: 30, durationS: 300 },
      tokenPassword: { name: 'auth_token_password', points: 30, durationS: 300 },
      tokenRefresh: { name: 'auth_token_refresh', points: 150, durationS: 300 },
      verify: { name: 'auth_verify', points: 30, durationS: 300 },
      emailSent: { name: 'auth_email_sent', points: 30, durationS: 3600 },
      anonymous: { name: 'auth_anonymous', points: 30, durationS: 3600 },
      emailPerAddress: { name: 'auth_email_per_address', points: 1, durationS: 60 },
      emailPerAddressHourly: { name: 'auth_email_per_address_hour', points: 10, durationS: 3600 },
      emailPerIp: { name: 'auth_email_per_ip', points: 10, durationS: 3600 },
      // A quarter of the hourly budget is kept for recovery and sign-in mails of confirmed users.
      emailSentUnreserved: { name: 'auth_email_sent_unreserved', points: 23, durationS: 3600 },
      passwordFailures: { max: 10, windowS: 900 },
      otpMaxAttempts: 5,
      smsSent: { name: 'auth_sms_sent', points: 30, durationS: 3600 },
    });
  });

  test.each([
    ['AUTH_RATE_LIMIT_SIGN_IN', 'signIn'],
    ['AUTH_RATE_LIMIT_TOKEN_PASSWORD', 'tokenPassword'],
    ['AUTH_RATE_LIMIT_TOKEN_REFRESH', 'tokenRefresh'],
    ['AUTH_RATE_LIMIT_VERIFY', 'verify'],
    ['AUTH_RATE_LIMIT_EMAIL_SENT', 'emailSent'],
    ['AUTH_RATE_LIMIT_ANONYMOUS_USERS', 'anonymous'],
  ] as const)('%s sets the points of %s', (variable, rule) => {
    expect(authLimits(loadConfig({}, { [variable]: '7' }))[rule].points).toBe(7);
  });

  test('unset, the password sign-ins budget is as large as the sign-ups one, yet counted apart', () => {
    const limits = authLimits(loadConfig({}, { AUTH_RATE_LIMIT_SIGN_IN: '100' }));
    expect(limits.tokenPassword).toEqual({ name: 'auth_token_password', points: 100, durationS: 300 });
    expect(limits.signIn.name).not.toBe(limits.tokenPassword.name);
  });

  test('AUTH_EMAIL_MAX_FREQUENCY is the window of one mail per address', () => {
    expect(authLimits(loadConfig({}, { AUTH_EMAIL_MAX_FREQUENCY: '600' })).emailPerAddress).toEqual({
      name: 'auth_email_per_address',
      points: 1,
      durationS: 600,
    });
  });

  test('AUTH_RATE_LIMIT_SMS_SENT sets the hourly texts of the server', () => {
    expect(authLimits(loadConfig({}, { AUTH_RATE_LIMIT_SMS_SENT: '7' })).smsSent.points).toBe(7);
  });

  test('AUTH_EMAIL_MAX_FREQUENCY=0 means no per-address rule', () => {
    expect(authLimits(loadConfig({}, { AUTH_EMAIL_MAX_FREQUENCY: '0' })).emailPerAddress).toBeUndefined();
  });

  test('every rule has its own name, so the limiter counts each apart', () => {
    const names = Object.values(authLimits(loadConfig({}, {})))
      .filter((rule) => typeof rule === 'object' && 'name' in rule)
      .map((rule) => (rule as { name: string }).name);
    expect(names).toHaveLength(11);
    expect(new Set(names).size).toBe(names.length);
  });
});
