/** What each answer of a push service means for a delivery (src/jobs/push/outcome.ts). */
import { describe, expect, test } from 'vitest';
import { classifyPushResponse } from '../../src/jobs/index.js';

describe('classifyPushResponse', () => {
  test.each([
    [201, 'delivered'],
    [200, 'delivered'],
    [202, 'delivered'],
    [404, 'expired'],
    [410, 'expired'],
    [429, 'retry'],
    [408, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
    [undefined, 'retry'],
    [400, 'rejected'],
    [401, 'rejected'],
    [403, 'rejected'],
    [413, 'rejected'],
  ] as const)('%s is %s', (status, outcome) => expect(classifyPushResponse(status)).toBe(outcome));
});
