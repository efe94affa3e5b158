/** Secrets the auth module hands out (random tokens and codes) and how it stores and compares them. */
import { describe, expect, test } from 'vitest';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { hashPassword, randomCode, randomToken, safeEqual, sha256, verifyPassword } from '../../src/auth/crypto.js';

describe('random secrets', () => {
  test('a token is 32 random bytes in base64url (43 characters) and never repeats', () => {
    const tokens = Array.from({ length: 200 }, randomToken);
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(tokens[0] ?? '', 'base64url')).toHaveLength(32);
    expect(new Set(tokens).size).toBe(200);
  });

  test('a code is six digits, zero-padded, and covers the range', () => {
    const codes = Array.from({ length: 2000 }, randomCode);
    for (const code of codes) expect(code).toMatch(/^\d{6}$/);
    // 2000 draws from a million: a leading zero turns up about 200 times; none at all means no padding.
    expect(codes.some((code) => code.startsWith('0'))).toBe(true);
    expect(new Set(codes).size).toBeGreaterThan(1990);
  });
});

describe('sha256', () => {
  test.each([
    ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
  ])('of %j is the FIPS 180-2 digest in lower-case hex', (value, digest) => {
    expect(sha256(value)).toBe(digest);
  });
});

describe('safeEqual', () => {
  test.each([
    ['equal strings', 'token-abc', 'token-abc', true],
    ['two empty strings', '', '', true],
    ['one character apart', 'token-abc', 'token-abd', false],
    ['different lengths (no throw, unlike timingSafeEqual)', 'abc', 'abcd', false],
    ['a case difference', 'ABC', 'abc', false],
  ])('%s: %s', (_name, a, b, expected) => {
    expect(safeEqual(a, b)).toBe(expected);
  });
});

describe('passwords', () => {
  test('are hashed with argon2id at the OWASP baseline (19 MiB, 2 passes, 1 lane), salted', async () => {
    const [one, two] = await Promise.all([hashPassword('correct horse'), hashPassword('correct horse')]);
    expect(one).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(one).not.toBe(two);
  });

  test.each([
    ['the right password', 'correct horse', true],
    ['a wrong password', 'correct horse!', false],
    ['an empty password', '', false],
  ])('verify against a stored hash: %s', async (_name, password, expected) => {
    const stored = await hashPassword('correct horse');
    expect(await verifyPassword(stored, password)).toBe(expected);
  });

  test.each([
    ['no hash (unknown user)', undefined],
    ['a null hash (passwordless user)', null],
    ['an empty hash', ''],
    ['a stored value that is the password itself, not a hash', 'correct horse'],
    ['a bcrypt hash of another password', '$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy'],
    ['a truncated bcrypt hash', '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lh'],
    ['a damaged argon2 hash', '$argon2id$v=19$m=19456,t=2,p=1$broken'],
  ])('verify fails for %s, without throwing', async (_name, stored) => {
    expect(await verifyPassword(stored, 'correct horse')).toBe(false);
  });

  // Imported users (a Supabase dump, an app's own table) arrive with bcrypt hashes, in each of the
  // prefixes libraries write: 2a (GoTrue, bcryptjs), 2b (OpenBSD, node bcrypt), 2y (PHP); for an
  // ASCII password the three are one algorithm, so one hash serves under each label.
  test.each(['2a', '2b', '2y'] as const)('verify accepts a $%s$ bcrypt hash of the password', async (version) => {
    const stored = (await bcryptHash('correct horse', 4)).replace(/^\$2b\$/, `$${version}$`);
    expect(stored.startsWith(`$${version}$04$`)).toBe(true);
    expect(await verifyPassword(stored, 'correct horse')).toBe(true);
    expect(await verifyPassword(stored, 'correct horse!')).toBe(false);
  });

  test("verify accepts PHP's documented password_hash example", async () => {
    expect(await verifyPassword('$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a', 'rasmuslerdorf')).toBe(
      true,
    );
  });
});
