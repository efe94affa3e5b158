import { describe, expect, test } from 'vitest';
import { healthRoutes, type Readiness } from '../../src/platform/health.js';
import { createMetrics } from '../../src/platform/metrics.js';

const app = (readiness: Readiness) =>
  healthRoutes(
    readiness,
    createMetrics(() => undefined),
    { public: true },
  );

describe('GET /ready', () => {
  test.each<[string, Readiness, number, unknown]>([
    ['ready', { check: async () => undefined }, 200, { status: 'ready' }],
    [
      'not ready',
      { check: async () => 'migrations pending' },
      503,
      { status: 'not ready', reason: 'migrations pending' },
    ],
    [
      'degraded is still ready',
      { check: async () => undefined, degraded: () => ['realtime: Redis is unreachable'] },
      200,
      { status: 'ready', degraded: ['realtime: Redis is unreachable'] },
    ],
    ['draining wins over ready', { check: async () => undefined, draining: () => true }, 503, { status: 'draining' }],
    [
      'draining wins over a failing check',
      { check: async () => 'database did not answer within 2 s', draining: () => true },
      503,
      { status: 'draining' },
    ],
    ['not draining', { check: async () => undefined, draining: () => false }, 200, { status: 'ready' }],
  ])('%s', async (_name, readiness, status, body) => {
    const response = await app(readiness).request('/ready');
    expect(response.status).toBe(status);
    expect(await response.json()).toEqual(body);
  });

  test('/health answers 200 while draining: the process lives', async () => {
    const response = await app({ check: async () => undefined, draining: () => true }).request('/health');
    expect(response.status).toBe(200);
  });
});
