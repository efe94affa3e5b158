import { describe, expect, test } from 'vitest';
import { callRange, contentRange, countsTotal, writeContentRange } from '../../src/rest/content-range.js';

describe('Content-Range on writes and calls', () => {
  test.each<[string, [number, number, number | undefined], string]>([
    ['a page of a counted total', [0, 9, 30], '0-9/30'],
    ['a page, uncounted', [5, 6, undefined], '5-6/*'],
    ['an empty page of an empty total', [0, -1, 0], '*/0'],
    ['an empty page, uncounted', [0, -1, undefined], '*/*'],
    ['a page past the total', [40, 39, 30], '*/30'],
  ])('%s', (_name, [lower, upper, total], header) => {
    expect(contentRange(lower, upper, total)).toBe(header);
  });

  test.each<['update' | 'delete', number, boolean, string]>([
    ['update', 3, true, '0-2/3'],
    ['update', 3, false, '0-2/*'],
    ['update', 0, true, '*/0'],
    ['update', 0, false, '*/*'],
    ['delete', 3, true, '*/3'],
    ['delete', 3, false, '*/*'],
    ['delete', 0, true, '*/0'],
  ])('%s of %i rows, counted: %s → %s', (action, affected, counted, header) => {
    expect(writeContentRange(action, affected, counted)).toBe(header);
  });

  test.each([
    ['exact', true],
    ['estimated', true],
    ['planned', false],
    [undefined, false],
  ] as const)('count=%s gives a total: %s', (count, gives) => {
    expect(countsTotal(count)).toBe(gives);
  });

  test.each<[string, [number, number, number | undefined], { header: string; status: 200 | 206 }]>([
    ['a scalar, counted', [0, 1, 1], { header: '0-0/1', status: 200 }],
    ['a whole set, counted', [0, 4, 4], { header: '0-3/4', status: 200 }],
    ['part of a set: 206', [2, 2, 4], { header: '2-3/4', status: 206 }],
    ['part of a set, uncounted: 200', [2, 2, undefined], { header: '2-3/*', status: 200 }],
    ['an empty result', [0, 0, 0], { header: '*/0', status: 200 }],
  ])('%s', (_name, [offset, page, total], expected) => {
    expect(callRange(offset, page, total)).toEqual(expected);
  });
});
