import { describe, expect, test } from 'vitest';
import { formatLsn, parseLsn } from '../../src/db/index.js';

describe('LSNs as PostgreSQL prints them', () => {
  test.each([
    ['0/0', 0n],
    ['0/16B3748', 0x16b3748n],
    ['16/B374D848', (0x16n << 32n) | 0xb374d848n],
    ['FFFFFFFF/FFFFFFFF', 0xffffffffffffffffn],
    ['  1/0  ', 1n << 32n],
    ['a/b', (0xan << 32n) | 0xbn],
  ])('parses %s', (text, lsn) => expect(parseLsn(text)).toBe(lsn));

  test.each([
    '',
    '/',
    '0',
    '0/',
    '/0',
    '1/2/3',
    'G/0',
    '100000000/0',
    '0/100000000',
    '-1/0',
    '0x1/0',
    "0/0'; --",
    '١/٠',
  ])('refuses %j', (text) => expect(parseLsn(text)).toBeUndefined());

  test.each(['0/0', '0/16B3748', '16/B374D848', 'FFFFFFFF/FFFFFFFF'])('%s survives the round trip', (text) =>
    expect(formatLsn(parseLsn(text) ?? -1n)).toBe(text),
  );

  test('orders as the WAL does: the high half first', () => {
    expect((parseLsn('1/0') ?? 0n) > (parseLsn('0/FFFFFFFF') ?? 0n)).toBe(true);
  });
});
