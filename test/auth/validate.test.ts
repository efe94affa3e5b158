/** The input checks every auth endpoint shares: passwords, email addresses and metadata. */
import { describe, expect, test } from 'vitest';
import { checkPassword, metadata, requireEmail } from '../../src/auth/validate.js';
import { contextWith, refusal } from './helpers.js';

describe('checkPassword', () => {
  const ctx = contextWith({});
  const strict = contextWith({ AUTH_PASSWORD_MIN_LENGTH: '10' });
  const required = { status: 400, code: 'validation_failed', message: 'Password is required' };
  const weak = (min: number) => ({
    status: 422,
    code: 'weak_password',
    message: `Password should be at least ${min} characters.`,
    fields: { weak_password: { reasons: ['length'] } },
  });
  const tooLong = { status: 400, code: 'validation_failed', message: 'Password cannot be longer than 72 characters' };

  test.each([
    ['the minimum length (6 by default)', 'abcdef'],
    ['six emoji: length counts characters, not UTF-16 units', '🔑🔑🔑🔑🔑🔑'],
    ['72 bytes, bcrypt-compatible limit', 'a'.repeat(72)],
    ['spaces, kept as typed', '  pass  word  '],
  ])('accepts %s and returns it unchanged', (_name, password) => {
    expect(checkPassword(ctx, password)).toBe(password);
  });

  test.each([
    ['no password', undefined, required],
    ['an empty password', '', required],
    ['five characters', 'abcde', weak(6)],
    ['five emoji (ten UTF-16 units)', '🔑🔑🔑🔑🔑', weak(6)],
    ['73 bytes', 'a'.repeat(73), tooLong],
    ['37 two-byte characters: the limit is in bytes', 'é'.repeat(37), tooLong],
  ])('refuses %s', (_name, password, expected) => {
    expect(refusal(() => checkPassword(ctx, password))).toEqual(expected);
  });

  test('the minimum length comes from AUTH_PASSWORD_MIN_LENGTH', () => {
    expect(refusal(() => checkPassword(strict, 'abcdefghi'))).toEqual(weak(10));
    expect(checkPassword(strict, 'abcdefghij')).toBe('abcdefghij');
  });
});

describe('requireEmail', () => {
  const required = { status: 400, code: 'validation_failed', message: 'An email address is required' };
  const invalid = {
    status: 400,
    code: 'validation_failed',
    message: 'Unable to validate email address: invalid format',
  };

  test.each([
    ['ada@example.com', 'ada@example.com'],
    ['  Ada@Example.COM  ', 'ada@example.com'],
    ['ada@example.com\n', 'ada@example.com'],
    ['ada+tag@sub.example.co.uk', 'ada+tag@sub.example.co.uk'],
    ["o'brien@example.com", "o'brien@example.com"],
  ])('%j is normalised to %j', (raw, email) => {
    expect(requireEmail(raw)).toBe(email);
  });

  test.each([
    [undefined, required],
    ['', required],
    ['   ', required],
    ['not-an-email', invalid],
    ['ada@localhost', invalid],
    ['ada@@example.com', invalid],
    ['ada lovelace@example.com', invalid],
    ['"ada"@example.com', invalid],
    ['<ada@example.com>', invalid],
    ['ada@exam\u0000ple.com', invalid],
    ['ada,bob@example.com', invalid],
  ])('%j is refused', (raw, expected) => {
    expect(refusal(() => requireEmail(raw))).toEqual(expected);
  });

  test('an address over 255 characters is too long, as GoTrue says before looking at its format', () => {
    const raw = `${'a'.repeat(250)}@example.com`;
    expect(refusal(() => requireEmail(raw))).toEqual({ ...invalid, message: 'An email address is too long' });
  });
});

describe('metadata', () => {
  const nested = (levels: number): Record<string, unknown> => {
    let value: Record<string, unknown> = {};
    for (let i = 1; i < levels; i++) value = { a: value };
    return value;
  };
  const messages = (value: unknown) => {
    const result = metadata.safeParse(value);
    return result.success ? [] : result.error.issues.map((issue) => issue.message);
  };

  test.each([
    ['an empty object', {}],
    ['strings, numbers, booleans, null and arrays', { name: 'Ada', n: 3, ok: true, none: null, tags: ['a', 'b'] }],
    ['64 levels of nesting', nested(64)],
    ['arrays count as levels too, up to 64', { a: JSON.parse(`${'['.repeat(63)}${']'.repeat(63)}`) as unknown }],
  ])('accepts %s as it is', (_name, value) => {
    expect(metadata.parse(value)).toEqual(value);
  });

  test.each([
    ['a NUL in a string', { name: 'a\u0000b' }, 'metadata cannot contain the NUL character (\\u0000)'],
    ['a NUL in a key', { 'a\u0000': 1 }, 'metadata cannot contain the NUL character (\\u0000)'],
    [
      'a NUL deep inside an array',
      { list: [{ x: ['ok', '\u0000'] }] },
      'metadata cannot contain the NUL character (\\u0000)',
    ],
    ['65 levels of nesting', nested(65), 'metadata is nested more than 64 levels deep'],
    [
      '65 levels through arrays',
      { a: JSON.parse(`${'['.repeat(64)}${']'.repeat(64)}`) as unknown },
      'metadata is nested more than 64 levels deep',
    ],
    ['100 000 levels, without overflowing the stack', nested(100_000), 'metadata is nested more than 64 levels deep'],
  ])('refuses %s', (_name, value, message) => {
    expect(messages(value)).toEqual([message]);
  });

  test.each([
    ['a string', 'x'],
    ['an array', [1]],
    ['null', null],
  ])('refuses %s: metadata is an object', (_name, value) => {
    expect(metadata.safeParse(value).success).toBe(false);
  });
});
