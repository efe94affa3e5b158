/** The pure helpers of auth.users: email normalisation, id shape and bans. */
import { describe, expect, test } from 'vitest';
import { isBanned, isUuid, normaliseEmail, type UserRow } from '../../src/auth/users.js';

describe('normaliseEmail', () => {
  test.each([
    ['ada@example.com', 'ada@example.com'],
    [' ADA@EXAMPLE.COM\t', 'ada@example.com'],
    ['a.b-c_d+e@x.y.z', 'a.b-c_d+e@x.y.z'],
    [`${'a'.repeat(243)}@example.com`, `${'a'.repeat(243)}@example.com`],
  ])('%j becomes %j', (raw, email) => {
    expect(normaliseEmail(raw)).toBe(email);
  });

  test.each([
    ['no @', 'example.com'],
    ['no dot after the @', 'ada@example'],
    ['two @', 'ada@b@example.com'],
    ['nothing before the @', '@example.com'],
    ['a space inside', 'ad a@example.com'],
    ['a control character', 'ada\u0007@example.com'],
    ['a quoted local part', '"ada"@example.com'],
    ['brackets', 'ada@[127.0.0.1]'],
    ['a semicolon', 'ada;@example.com'],
    ['256 characters', `${'a'.repeat(244)}@example.com`],
  ])('refuses %s', (_name, raw) => {
    expect(normaliseEmail(raw)).toBeUndefined();
  });
});

describe('isUuid', () => {
  test.each([
    ['0b9f6b6e-3c1a-4f8e-9d2a-1b2c3d4e5f60', true],
    ['0B9F6B6E-3C1A-4F8E-9D2A-1B2C3D4E5F60', true],
    ['00000000-0000-0000-0000-000000000000', true],
    ['0b9f6b6e3c1a4f8e9d2a1b2c3d4e5f60', false],
    ['{0b9f6b6e-3c1a-4f8e-9d2a-1b2c3d4e5f60}', false],
    ['0b9f6b6e-3c1a-4f8e-9d2a-1b2c3d4e5f6', false],
    ['0b9f6b6e-3c1a-4f8e-9d2a-1b2c3d4e5f60 ', false],
    ['g b9f6b6e-3c1a-4f8e-9d2a-1b2c3d4e5f6', false],
    ['', false],
  ])('%j is a UUID: %s', (value, expected) => {
    expect(isUuid(value)).toBe(expected);
  });
});

describe('isBanned', () => {
  const user = (banned_until: Date | null) => ({ banned_until }) as UserRow;
  test.each([
    ['never banned', null, false],
    ['banned until an hour from now', new Date(Date.now() + 3_600_000), true],
    ['a ban that ended an hour ago', new Date(Date.now() - 3_600_000), false],
  ])('%s: %s', (_name, until, expected) => {
    expect(isBanned(user(until))).toBe(expected);
  });
});
