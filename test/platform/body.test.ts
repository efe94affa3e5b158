/** The pure checks of request bodies: where a value holds NUL, how deep it is nested. */
import { describe, expect, test } from 'vitest';
import { ApiError } from '../../src/errors.js';
import { jsonDepthExceeds, nulAt, nulMessage } from '../../src/platform/body.js';
import { refusedText } from '../../src/platform/refused-text.js';

describe('nulAt', () => {
  test.each([
    ['a clean object', { a: 'x', b: [1, 'y', { c: null }] }, undefined],
    ['a string value', { search: 'a\u0000' }, 'search'],
    ['an array element', { prefixes: ['ok', 'b\u0000'] }, 'prefixes.1'],
    ['a nested value', { transform: { format: '\u0000' } }, 'transform.format'],
    ['a key, shown escaped', { 'pre\u0000fix': 1 }, 'pre\\u0000fix'],
    ['a nested key', { metadata: { 'k\u0000': 1 } }, 'metadata.k\\u0000'],
    ['the value itself', 'a\u0000b', ''],
    ['numbers and booleans', { n: 0, t: true }, undefined],
  ])('%s', (_what, value, expected) => expect(nulAt(value)).toBe(expected));

  test('a base path names the field the value came from', () =>
    expect(nulAt({ a: '\u0000' }, 'metadata')).toBe('metadata.a'));

  test('hostile depth does not overflow the stack', () => {
    let deep: unknown = 'x\u0000';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(nulAt(deep)).toMatch(/^0(\.0)*$/);
    expect(jsonDepthExceeds(deep)).toBe(true);
  });

  test('the message names the field', () =>
    expect(nulMessage('paths.0')).toBe('paths.0 must not contain the NUL character (\\u0000)'));
});

describe('refusedText', () => {
  const pgError = (code: string) =>
    Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code });

  test.each([
    ['/storage/v1/object/list/docs', 'InvalidRequest'],
    ['/auth/v1/factors', 'validation_failed'],
    ['/realtime/v1/api/broadcast', '22021'],
  ])('PostgreSQL refusing NUL on %s is a 400 (%s)', (path, code) => {
    const err = refusedText(pgError('22021'), path);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 400, code });
  });

  test('22P05 (\\u0000 in jsonb) too', () =>
    expect(refusedText(pgError('22P05'), '/rest/v1/x')).toMatchObject({ status: 400, code: '22P05' }));

  test.each([
    ['another SQLSTATE', pgError('23505')],
    ['an error without a code', new Error('boom')],
    ['an ApiError its module already worded', new ApiError(400, '22P05', 'unsupported Unicode escape sequence')],
  ])('%s is left alone', (_what, err) => expect(refusedText(err, '/rest/v1/x')).toBeUndefined());
});

describe('kept numbers are leaves', () => {
  test('a depth limit counts a kept number as the number it stands for', async () => {
    const { parseJson } = await import('../../src/platform/json.js');
    const nested = (leaf: string) => parseJson(`${'['.repeat(63)}${leaf}${']'.repeat(63)}`);
    expect(jsonDepthExceeds(nested('1'))).toBe(false);
    expect(jsonDepthExceeds(nested('1.0'))).toBe(false);
    expect(jsonDepthExceeds(nested('12345678901234567890'))).toBe(false);
    expect(nulAt(parseJson('{"a":[1.50,{"b":"x\\u0000"}]}'))).toBe('a.1.b');
  });
});
