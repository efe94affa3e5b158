/** The recent-requests ring behind Studio's request log: the last N, oldest first. */
import { expect, test } from 'vitest';
import { createRecentRequests } from '../../src/platform/metrics.js';

const record = (n: number) => ({
  at: n,
  reqId: String(n),
  method: 'GET',
  route: '/r',
  path: `/p/${n}`,
  status: 200,
  ms: 1,
});

test.each([
  [0, []],
  [2, [0, 1]],
  [3, [0, 1, 2]],
  [7, [4, 5, 6]],
])('after %i requests a ring of 3 holds %j', (count, expected) => {
  const ring = createRecentRequests(3);
  for (let i = 0; i < count; i++) ring.add(record(i));
  expect(ring.list().map((r) => r.at)).toEqual(expected);
});
