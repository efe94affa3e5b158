import { describe, expect, test } from 'vitest';
import { ApiError } from '../../src/errors.js';
import { planList } from '../../src/storage/list.js';
import {
  mimeAllowed,
  parseFileSizeLimit,
  parseObjectPath,
  validBucketId,
  validObjectName,
} from '../../src/storage/names.js';
import { appliedTransformations, parseTransform } from '../../src/storage/render.js';
import { parseRange } from '../../src/storage/serve.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof ApiError ? String(err.extra.fields?.code) : 'not an ApiError';
  }
}

describe('parseObjectPath', () => {
  test.each([
    ['avatars/u1/me.png', { bucket: 'avatars', name: 'u1/me.png' }],
    ['avatars/u1/my%20photo.png', { bucket: 'avatars', name: 'u1/my photo.png' }],
    ['my%20bucket/%C3%A9t%C3%A9.txt', { bucket: 'my bucket', name: 'été.txt' }],
    ['b/a/b/c/d.txt', { bucket: 'b', name: 'a/b/c/d.txt' }],
  ])('%s', (raw, expected) => expect(parseObjectPath(raw)).toEqual(expected));

  test.each([
    ['b/../x'],
    ['b/a/%2e%2e/x'],
    ['b/a/./x'],
    ['b/a%2Fb'],
    ['b/a%5cb'],
    ['b//x'],
    ['b/x/'],
    ['b/'],
    ['b/x%00'],
    ['b/x%0a'],
    ['b/%E0%A4%A'],
    [`b/${'a'.repeat(1025)}`],
  ])('%s is an invalid key', (raw) => expect(codeOf(() => parseObjectPath(raw))).toBe('InvalidKey'));

  test.each([['a/b'], ['..'], [''], ['b'.repeat(101)], ['%2F']])('bucket %s is an invalid bucket name', (bucket) => {
    expect(codeOf(() => validBucketId(decodeURIComponent(bucket)))).toBe('InvalidBucketName');
  });

  test('names from JSON bodies follow the same rules', () => {
    expect(validObjectName('a/b.txt')).toBe('a/b.txt');
    expect(codeOf(() => validObjectName('a/../b'))).toBe('InvalidKey');
    expect(codeOf(() => validObjectName(42))).toBe('InvalidKey');
    expect(codeOf(() => validObjectName('a\\b'))).toBe('InvalidKey');
  });
});

describe('mimeAllowed', () => {
  test.each([
    ['image/png', ['image/*'], true],
    ['image/png', ['image/png'], true],
    ['IMAGE/PNG', ['image/png'], true],
    ['text/plain;charset=UTF-8', ['text/plain'], true],
    ['image/png', ['image/jpeg'], false],
    ['application/zip', ['image/*', 'text/*'], false],
    ['anything/at-all', null, true],
    ['anything/at-all', [], true],
  ])('%s in %j: %s', (mime, allowed, expected) => expect(mimeAllowed(mime, allowed)).toBe(expected));
});

describe('parseFileSizeLimit', () => {
  test.each([
    [1000, 1000],
    // decimal units, as storage-api reads them
    ['20MB', 20_000_000],
    ['20mb', 20_000_000],
    ['30kb', 30_000],
    ['3B', 3],
    ['1.5GB', 1_500_000_000],
    // three significant digits of the number are kept
    ['1.2345MB', 1_230_000],
    [null, null],
    [0, null],
  ])('%j is %j bytes', (value, bytes) => expect(parseFileSizeLimit(value)).toBe(bytes));

  test.each([['lots'], [-1], ['20 TB'], [{}]])('%j is refused', (value) =>
    expect(codeOf(() => parseFileSizeLimit(value))).toBe('InvalidRequest'),
  );
});

describe('parseRange', () => {
  test.each([
    ['bytes=0-9', 100, { start: 0, end: 9 }],
    ['bytes=90-', 100, { start: 90, end: 99 }],
    ['bytes=-10', 100, { start: 90, end: 99 }],
    ['bytes=-1000', 100, { start: 0, end: 99 }],
    ['bytes=50-1000', 100, { start: 50, end: 99 }],
    ['bytes=100-', 100, 'unsatisfiable'],
    ['bytes=5-2', 100, 'unsatisfiable'],
    ['bytes=0-1,5-6', 100, undefined],
    ['items=0-1', 100, undefined],
    ['bytes=-', 100, undefined],
  ])('%s of %d bytes', (header, size, expected) => expect(parseRange(header, size)).toEqual(expected));
});

describe('planList', () => {
  test('the prefix is a folder; search, limit, offset and sort are parameters or fixed words', () => {
    const plan = planList('docs', {
      prefix: 'u1',
      limit: 10,
      offset: 5,
      search: 'a%',
      sortBy: { column: 'created_at', order: 'desc' },
    });
    expect(plan.values).toEqual(['docs', 'u1/', 'a%', 10, 5]);
    expect(plan.text).toContain('order by created_at desc');
    expect(planList('docs', {}).values).toEqual(['docs', '', '', 100, 0]);
  });

  test.each([
    [{ sortBy: { column: 'name; drop table x' } }],
    [{ sortBy: { order: 'sideways' } }],
    [{ limit: 0 }],
    [{ limit: 1001 }],
    [{ offset: -1 }],
    [{ limit: 'ten' }],
  ])('%j is refused', (body) => expect(codeOf(() => planList('docs', body))).toBe('InvalidRequest'));
});

describe('appliedTransformations', () => {
  test.each([
    ['', undefined],
    ['width=100', 'width:100,resizing_type:fill'],
    [
      'width=100&height=50&resize=contain&quality=60&format=webp',
      'height:50,width:100,resizing_type:fit,quality:60,format:webp',
    ],
    ['height=10&resize=fill', 'height:10,resizing_type:force'],
    ['quality=90', 'quality:90'],
  ])('%s is %s', (query, header) =>
    expect(appliedTransformations(parseTransform(new URLSearchParams(query)))).toBe(header),
  );
});

describe('parseTransform', () => {
  test('defaults and bounds', () => {
    expect(parseTransform(new URLSearchParams(''))).toEqual({
      width: undefined,
      height: undefined,
      resize: 'cover',
      // unset: the encoder's default (80) applies, and X-Transformations names no quality
      quality: undefined,
      format: 'origin',
    });
    expect(parseTransform(new URLSearchParams('width=100&height=50&resize=contain&quality=60&format=avif'))).toEqual({
      width: 100,
      height: 50,
      resize: 'contain',
      quality: 60,
      format: 'avif',
    });
  });

  test.each([['width=0'], ['width=2501'], ['height=abc'], ['resize=stretch'], ['quality=5'], ['format=gif']])(
    '%s is refused',
    (query) => {
      expect(codeOf(() => parseTransform(new URLSearchParams(query)))).toBe('InvalidRequest');
    },
  );
});
