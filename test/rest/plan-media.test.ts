import { describe, expect, test } from 'vitest';
import { parsePlanMedia, unacceptableMedia } from '../../src/rest/plan-media.js';
import { parseCookies } from '../../src/rest/request-http.js';

describe('the EXPLAIN media type', () => {
  test.each([
    ['application/json', undefined],
    [undefined, undefined],
    [
      'application/vnd.pgrst.plan+json; for="application/json"; options=;',
      { format: 'json', for: 'application/json', options: [] },
    ],
    ['application/vnd.pgrst.plan', { format: 'text', for: 'application/json', options: [] }],
    [
      'application/vnd.pgrst.plan+text; for="text/csv"; options=wal|analyze|bogus|VERBOSE',
      { format: 'text', for: 'text/csv', options: ['analyze', 'verbose', 'wal'] },
    ],
    [
      'text/html, application/vnd.pgrst.plan+json;for="application/vnd.pgrst.object+json;nulls=stripped"',
      { format: 'json', for: 'application/vnd.pgrst.object+json;nulls=stripped', options: [] },
    ],
    ['application/vnd.pgrst.planner', undefined],
  ])('%s', (accept, expected) => {
    const media = parsePlanMedia(accept);
    if (expected === undefined) expect(media).toBeUndefined();
    else expect(media).toMatchObject(expected);
  });

  test('the 406 names the types as PostgREST rebuilds them', () => {
    expect(
      parsePlanMedia('Text/HTML;q=0.9, application/vnd.pgrst.plan+json; options=analyze|buffers;')?.accepted,
    ).toEqual(['text/html', 'application/vnd.pgrst.plan+json; for="application/json"; options=analyze|buffers']);
  });
});

describe('request.cookies', () => {
  test.each([
    [undefined, {}],
    ['a=1; b=2', { a: '1', b: '2' }],
    ['a=1; a=2', { a: '1' }],
    ['s="x y"; broken; =v; t=', { s: 'x y', t: '' }],
    ['__proto__=p', { ['__proto__']: 'p' }],
  ])('%s', (header, expected) => {
    expect(JSON.parse(JSON.stringify(parseCookies(header)))).toEqual(JSON.parse(JSON.stringify(expected)));
  });
});

describe('media types a table or view cannot be answered as', () => {
  test.each([
    [undefined, undefined],
    ['', undefined],
    ['application/json', undefined],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', undefined],
    ['application/xml, text/csv', undefined],
    ['Application/VND.pgrst.object+json', undefined],
    ['application/xml', ['application/xml']],
    ['text/plain;charset=utf-8, image/png', ['text/plain', 'image/png']],
  ])('%s', (accept, expected) => {
    expect(unacceptableMedia(accept)).toEqual(expected);
  });
});
