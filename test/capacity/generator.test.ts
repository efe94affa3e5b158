import { describe, expect, test } from 'vitest';
import { indicesFor } from '../../src/capacity/generator.js';

describe('virtual users spread over the load generators', () => {
  test.each([
    [1, 5],
    [2, 5],
    [2, 20],
    [3, 10],
    [4, 2],
  ])('%d generators, %d users: each user in exactly one, the counts within one of each other', (count, users) => {
    const parts = Array.from({ length: count }, (_, g) => indicesFor(g, count, users));
    expect(parts.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: users }, (_, i) => i));
    const sizes = parts.map((p) => p.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  test('a later, larger step keeps each user in its generator (its sockets and sign-in are reused)', () => {
    expect(indicesFor(1, 2, 10)).toEqual([1, 3, 5, 7, 9]);
    expect(indicesFor(1, 2, 20).slice(0, 5)).toEqual(indicesFor(1, 2, 10));
  });
});
