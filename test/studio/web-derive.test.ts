/** The dashboard's pure parts (studio/web/src/derive.ts): a cell's text, the sort order, the window's p95. */
import { describe, expect, test } from 'vitest';
import { cellText, compareValues, windowP95, type Buckets } from '../../studio/web/src/derive.js';

describe('cellText', () => {
  test.each([
    [null, 'NULL'],
    [undefined, 'NULL'],
    ['text', 'text'],
    ['', ''],
    [42, '42'],
    [false, 'false'],
    [{ a: [1, null] }, '{"a":[1,null]}'],
    [[1, 2], '[1,2]'],
  ])('%j is %j', (value, text) => expect(cellText(value)).toBe(text));
});

describe('compareValues sorts as DataTable shows', () => {
  test.each([
    ['numbers as numbers', [10, 9, 100], [9, 10, 100]],
    ['digits in text as numbers', ['row 10', 'row 2', 'row 1'], ['row 1', 'row 2', 'row 10']],
    ['NULL last', [null, 'b', undefined, 'a'], ['a', 'b', null, undefined]],
    ['booleans by their text', [true, false], [false, true]],
    ['objects by their JSON', [{ b: 1 }, { a: 2 }], [{ a: 2 }, { b: 1 }]],
  ])('%s', (_name, values, sorted) => expect([...values].sort(compareValues)).toEqual(sorted));
});

describe('windowP95', () => {
  const buckets = (...counts: number[]): Buckets =>
    [0.005, 0.01, 0.025, 0.05, null].map((le, i) => ({ le, count: counts[i] ?? 0 }));
  test.each([
    ['no request between the polls', buckets(5, 5, 5, 5, 5), buckets(5, 5, 5, 5, 5), 0],
    ['all under 5 ms', buckets(0, 0, 0, 0, 0), buckets(100, 100, 100, 100, 100), 5],
    ['the 95th of 100 under 25 ms', buckets(0, 0, 0, 0, 0), buckets(80, 90, 96, 100, 100), 25],
    [
      'only the requests since the last poll count',
      buckets(1000, 1000, 1000, 1000, 1000),
      buckets(1000, 1000, 1000, 1100, 1100),
      50,
    ],
    ['past the last bound: the last finite one', buckets(0, 0, 0, 0, 0), buckets(0, 0, 0, 10, 100), 50],
  ])('%s', (_name, before, now, ms) => expect(windowP95(before, now)).toBe(ms));
});
