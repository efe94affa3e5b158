import crypto from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRateLimiter, type RateLimiter, type RateLimitRule } from '../../src/platform/limiter/index.js';

const redisUrl = process.env.REDIS_URL;
const mustRunRedis = process.env.CI === 'true';
const skipRedis = redisUrl === undefined && !mustRunRedis;
if (skipRedis) console.log('REDIS_URL is not set: skipping the Redis rate limiter tests (CI=true runs them)');
const redisTest = test.skipIf(skipRedis);

// Rule names are part of the Redis key: a random suffix keeps runs (and test files) apart.
const run = crypto.randomBytes(4).toString('hex');
let ruleCount = 0;
const rule = (points: number, durationS = 60): RateLimitRule => ({
  name: `test_${run}_${++ruleCount}`,
  points,
  durationS,
});

/** A logger that keeps its lines, to count the warnings. */
function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, warnings: () => lines.filter((l) => l.level === 40) };
}

const silent = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function consumeTimes(limiter: RateLimiter, r: RateLimitRule, key: string, times: number) {
  const results = [];
  for (let i = 0; i < times; i++) results.push(await limiter.consume(r, key));
  return results;
}

function behaviours(name: string, make: () => RateLimiter, needsRedis: boolean) {
  const only = needsRedis ? redisTest : test;
  describe(name, () => {
    let limiter: RateLimiter;
    beforeAll(() => {
      if (needsRedis && redisUrl === undefined)
        throw new Error('CI=true: the Redis tests must run, but REDIS_URL is not set');
      limiter = make();
    });
    afterAll(() => limiter?.close());

    only("allows the rule's points, then refuses until the window ends", async () => {
      const r = rule(3, 60);
      const results = await consumeTimes(limiter, r, '203.0.113.1', 4);
      expect(results.slice(0, 3)).toMatchObject([
        { allowed: true, retryAfterS: 0, remaining: 2 },
        { allowed: true, retryAfterS: 0, remaining: 1 },
        { allowed: true, retryAfterS: 0, remaining: 0 },
      ]);
      // The window's end, as RateLimit-Reset says it, is about a minute away on every answer.
      for (const r of results) expect(r.resetS).toBeGreaterThanOrEqual(59);
      for (const r of results) expect(r.resetS).toBeLessThanOrEqual(60);
      expect(results[3]).toMatchObject({ allowed: false, remaining: 0 });
      expect(results[3]?.retryAfterS).toBeGreaterThanOrEqual(59);
      expect(results[3]?.retryAfterS).toBeLessThanOrEqual(60);
      expect(limiter.isHealthy()).toBe(true);
    });

    only('keys and rules count separately', async () => {
      const a = rule(1);
      const b = rule(1);
      expect((await limiter.consume(a, 'k1')).allowed).toBe(true);
      expect((await limiter.consume(a, 'k1')).allowed).toBe(false);
      expect((await limiter.consume(a, 'k2')).allowed).toBe(true);
      expect((await limiter.consume(b, 'k1')).allowed).toBe(true);
    });

    only('a refused key is allowed again once its window has passed', async () => {
      const r = rule(1, 1);
      expect((await limiter.consume(r, 'k')).allowed).toBe(true);
      const refused = await limiter.consume(r, 'k');
      expect(refused).toEqual({ allowed: false, retryAfterS: 1, remaining: 0, resetS: 1 });
      await sleep(1100);
      expect((await limiter.consume(r, 'k')).allowed).toBe(true);
    });
  });
}

behaviours('memory rate limiter', () => createRateLimiter({ redisUrl: undefined, log: silent }), false);
behaviours('Redis rate limiter', () => createRateLimiter({ redisUrl, log: silent }), true);

describe('Redis rate limiter across instances', () => {
  redisTest('two instances on one Redis take from the same budget', async () => {
    if (redisUrl === undefined) throw new Error('CI=true: the Redis tests must run, but REDIS_URL is not set');
    const one = createRateLimiter({ redisUrl, log: silent });
    const two = createRateLimiter({ redisUrl, log: silent });
    try {
      const r = rule(3);
      expect((await one.consume(r, 'shared')).remaining).toBe(2);
      expect((await two.consume(r, 'shared')).remaining).toBe(1);
      expect((await one.consume(r, 'shared')).remaining).toBe(0);
      expect((await two.consume(r, 'shared')).allowed).toBe(false);
      expect((await one.consume(r, 'shared')).allowed).toBe(false);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });
});

describe('Redis rate limiter with Redis unreachable', () => {
  test('answers from memory at once, still limits, and warns once per outage', async () => {
    const { log, warnings } = capturingLogger();
    const limiter = createRateLimiter({ redisUrl: 'redis://127.0.0.1:1', log });
    try {
      const r = rule(5);
      const started = Date.now();
      const results = await consumeTimes(limiter, r, 'k', 20);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(results.filter((x) => x.allowed)).toHaveLength(5);
      expect(results.at(-1)).toMatchObject({ allowed: false, remaining: 0 });
      expect(limiter.isHealthy()).toBe(false);
      // Reconnect attempts keep failing meanwhile; the warning is still only the first one.
      await sleep(400);
      await consumeTimes(limiter, r, 'k', 5);
      expect(warnings()).toHaveLength(1);
      expect(warnings()[0]?.msg).toMatch(/Redis is unreachable/);
    } finally {
      const closing = Date.now();
      await limiter.close();
      expect(Date.now() - closing).toBeLessThan(500);
    }
  });
});
