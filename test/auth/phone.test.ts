/** The pure parts of phone sign-in: numbers, channels, test numbers, templates, and their settings. */
import { describe, expect, test } from 'vitest';
import type { AuthContext } from '../../src/auth/context.js';
import { formatPhone, parseChannel, renderSms, requirePhone, testCodeFor } from '../../src/auth/phone.js';
import { loadConfig } from '../../src/config.js';
import { FatalError, describeFatal } from '../../src/errors.js';
import { createSmsProvider } from '../../src/platform/sms/index.js';

/** Just what the pure functions read from the context. */
const contextWith = (env: Record<string, string>): AuthContext => {
  const config = loadConfig({}, env);
  return { config, sms: createSmsProvider(config.auth.sms) } as unknown as AuthContext;
};

describe('phone numbers (GoTrue: E.164 digits, stored without "+")', () => {
  test.each([
    ['+15555550100', '15555550100'],
    ['15555550100', '15555550100'],
    ['+44 20 7946 0958', '442079460958'],
    ['12', '12'],
    ['123456789012345', '123456789012345'],
  ])('%s is %s', (raw, stored) => {
    expect(requirePhone(raw)).toBe(stored);
  });

  test.each([
    '',
    '+',
    '1',
    '0123456789',
    '+0123',
    '1234567890123456',
    'abc',
    '+1-555-555',
    '1555\u00000100',
    '++15555550100',
    '1555\n0100',
  ])('%j is refused with GoTrue’s message', (raw) => {
    expect(() => requirePhone(raw)).toThrow('Invalid phone number format (E.164 required)');
  });

  test('undefined is refused too', () => {
    expect(() => requirePhone(undefined)).toThrow('E.164');
  });

  test('formatPhone only drops one leading + and the spaces', () => {
    expect(formatPhone('++1 2')).toBe('+12');
  });
});

describe('channels', () => {
  const twilio = contextWith({
    AUTH_SMS_PROVIDER: 'twilio',
    AUTH_SMS_TWILIO_ACCOUNT_SID: 'AC',
    AUTH_SMS_TWILIO_AUTH_TOKEN: 't',
    AUTH_SMS_TWILIO_MESSAGE_SERVICE_SID: 'MG',
  });
  const vonage = contextWith({
    AUTH_SMS_PROVIDER: 'vonage',
    AUTH_SMS_VONAGE_API_KEY: 'k',
    AUTH_SMS_VONAGE_API_SECRET: 's',
    AUTH_SMS_VONAGE_FROM: 'f',
  });
  test('sms unless asked', () => {
    expect(parseChannel(vonage, undefined)).toBe('sms');
    expect(parseChannel(vonage, '')).toBe('sms');
  });
  test('whatsapp through Twilio only', () => {
    expect(parseChannel(twilio, 'whatsapp')).toBe('whatsapp');
    expect(() => parseChannel(vonage, 'whatsapp')).toThrow(/^Invalid channel/);
    expect(() => parseChannel(contextWith({}), 'whatsapp')).toThrow(/^Invalid channel/);
  });
  test('anything else is refused', () => {
    expect(() => parseChannel(twilio, 'SMS')).toThrow(/^Invalid channel/);
  });
});

describe('test numbers', () => {
  test('AUTH_SMS_TEST_OTP is number=code pairs; "+" and spaces are dropped from numbers', () => {
    const config = loadConfig({}, { AUTH_SMS_TEST_OTP: '+1 555 000 1111=123456, 15550002222=000000' });
    expect(config.auth.sms.testOtp).toEqual({ '15550001111': '123456', '15550002222': '000000' });
  });
  test('a test number’s code, until AUTH_SMS_TEST_OTP_VALID_UNTIL', () => {
    const ctx = contextWith({
      AUTH_SMS_TEST_OTP: '15550001111=123456',
      AUTH_SMS_TEST_OTP_VALID_UNTIL: '2030-01-01T00:00:00Z',
    });
    expect(testCodeFor(ctx, '15550001111', new Date('2029-12-31T23:59:59Z'))).toBe('123456');
    expect(testCodeFor(ctx, '15550001111', new Date('2030-01-01T00:00:00Z'))).toBeUndefined();
    expect(testCodeFor(ctx, '15550003333', new Date('2029-01-01T00:00:00Z'))).toBeUndefined();
    // Names of Object.prototype are no test numbers.
    expect(testCodeFor(ctx, 'constructor', new Date('2029-01-01T00:00:00Z'))).toBeUndefined();
  });
  test.each(['15550001111', '15550001111=', '=123456', '15550001111=12a', 'a=1'])('%j is refused at start', (value) => {
    expect(() => loadConfig({}, { AUTH_SMS_TEST_OTP: value })).toThrow(FatalError);
  });
});

describe('settings', () => {
  test('a provider without its credentials stops the start, naming the missing one', () => {
    try {
      loadConfig({}, { AUTH_SMS_PROVIDER: 'messagebird', AUTH_SMS_MESSAGEBIRD_ACCESS_KEY: 'k' });
      expect.unreachable();
    } catch (err) {
      expect(describeFatal(err as FatalError)).toContain('AUTH_SMS_MESSAGEBIRD_ORIGINATOR');
    }
  });
  test('an unknown provider is refused', () => {
    expect(() => loadConfig({}, { AUTH_SMS_PROVIDER: 'carrier-pigeon' })).toThrow(FatalError);
  });
  test('the defaults are GoTrue’s', () => {
    const sms = loadConfig({}, {}).auth.sms;
    expect(sms).toMatchObject({
      enabled: false,
      confirmation: false,
      provider: '',
      template: 'Your code is {{ .Code }}',
      maxFrequency: 60,
      otpExpiry: 60,
      otpLength: 6,
      timeoutMs: 10_000,
      sentPerHour: 30,
    });
  });
});

describe('the template', () => {
  test.each([
    ['Your code is {{ .Code }}', 'Your code is 123456'],
    ['{{.Code}} is your code, {{ .Code }}', '123456 is your code, 123456'],
    ['No code here', 'No code here'],
    ['{{ .Token }}', '{{ .Token }}'],
  ])('%j', (template, text) => {
    expect(renderSms(template, '123456')).toBe(text);
  });
});
