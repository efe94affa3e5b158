/**
 * The realtime message budgets: off (no budget, the socket's synchronous path), per user and
 * address, and the tenant's counted once for two instances that share Redis.
 */
import crypto from 'node:crypto';
import { pino } from 'pino';
import { afterAll, describe, expect, test } from 'vitest';
import { createRateLimiter, type RateLimiter } from '../../src/platform/limiter/index.js';
import { createMessageBudget } from '../../src/realtime/budget.js';
import { TokenBucket } from '../../src/realtime/limits.js';

const redisUrl = process.env.REDIS_URL;
const skipRedis = redisUrl === undefined && process.env.CI !== 'true';
const silent = pino({ level: 'silent' });
const run = crypto.randomBytes(4).toString('hex');
const opened: RateLimiter[] = [];
const limiter = (url: string | undefined) => {
  const l = createRateLimiter({ redisUrl: url, log: silent });
  opened.push(l);
  return l;
};
afterAll(() => Promise.all(opened.map((l) => l.close())));

async function takeTimes(budget: ReturnType<typeof createMessageBudget>, key: string | undefined, n: number) {
  const verdicts = [];
  for (let i = 0; i < n; i++) verdicts.push(await budget!.take(key));
  return verdicts;
}

describe('createMessageBudget', () => {
  test('nothing shared to count: no budget, the socket keeps its synchronous token bucket', () => {
    const budget = createMessageBudget({
      limiter: limiter(undefined),
      tenant: undefined,
      tenantKey: 't',
      client: undefined,
      localTenant: new TokenBucket(10, Date.now()),
    });
    expect(budget).toBeUndefined();
  });

  test('per user: each key has its budget; service_role (no key) has none; the local tenant still counts', async () => {
    const budget = createMessageBudget({
      limiter: limiter(undefined),
      tenant: undefined,
      tenantKey: 't',
      client: { name: `rt_${run}_client`, points: 2, durationS: 60 },
      localTenant: new TokenBucket(6, Date.now()),
    });
    expect(await takeTimes(budget, 'user:a', 3)).toEqual(['ok', 'ok', 'client']);
    expect(await takeTimes(budget, 'ip:203.0.113.1', 2)).toEqual(['ok', 'ok']);
    // Six tokens a second for the instance: past them (and what refills meanwhile), the tenant refuses.
    expect(await takeTimes(budget, undefined, 3)).toContain('tenant');
  });

  test.skipIf(skipRedis)("with Redis, two instances' messages spend one tenant budget", async () => {
    const tenant = { name: `rt_${run}_tenant`, points: 5, durationS: 60 };
    const make = () =>
      createMessageBudget({
        limiter: limiter(redisUrl),
        tenant,
        tenantKey: `cluster-${run}`,
        client: undefined,
        // Generous, to show the instance's own bucket is not what refuses.
        localTenant: new TokenBucket(1000, Date.now()),
      });
    const [one, two] = [make(), make()];
    const verdicts = [...(await takeTimes(one, undefined, 3)), ...(await takeTimes(two, undefined, 3))];
    expect(verdicts).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'tenant']);
    expect(await takeTimes(one, undefined, 1)).toEqual(['tenant']);
    // Another cluster on the same Redis keeps its own count.
    const other = createMessageBudget({
      limiter: limiter(redisUrl),
      tenant,
      tenantKey: `other-${run}`,
      client: undefined,
      localTenant: new TokenBucket(1000, Date.now()),
    });
    expect(await takeTimes(other, undefined, 1)).toEqual(['ok']);
  });
});
