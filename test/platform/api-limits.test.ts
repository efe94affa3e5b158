import { describe, expect, test } from 'vitest';
import { limitKey, rateLimitHeaders, rateLimitedError } from '../../src/platform/api-limits.js';

describe('limitKey', () => {
  test.each([
    [{ role: 'authenticated', sub: 'u-1' }, '203.0.113.1', 'user:u-1'],
    [{ role: 'anon' }, '203.0.113.1', 'ip:203.0.113.1'],
    [{ role: 'authenticated', sub: '' }, '203.0.113.1', 'ip:203.0.113.1'],
    [{ role: 'authenticated', sub: 42 }, '::1', 'ip:::1'],
    [undefined, undefined, 'ip:unknown'],
    [{ role: 'service_role' }, '203.0.113.1', undefined],
    [{ role: 'service_role', sub: 'u-1' }, '203.0.113.1', undefined],
  ])('%j from %s spends %s', (claims, ip, key) => expect(limitKey(claims, ip)).toBe(key));

  test('a huge sub is cut short', () => {
    expect(limitKey({ sub: 'x'.repeat(10_000) }, undefined)).toHaveLength('user:'.length + 256);
  });
});

describe('headers and the 429', () => {
  const rule = { name: 'api_rest', points: 100, durationS: 60 };
  test('RateLimit-* fields', () => {
    expect(rateLimitHeaders(rule, { allowed: true, retryAfterS: 0, remaining: 7, resetS: 42 })).toEqual({
      'ratelimit-limit': '100',
      'ratelimit-remaining': '7',
      'ratelimit-reset': '42',
      'ratelimit-policy': '100;w=60',
    });
  });

  test.each([
    ['rest', 'over_request_rate_limit'],
    ['realtime', 'over_request_rate_limit'],
    ['storage', 'SlowDown'],
  ] as const)('%s refuses with %s, Retry-After and the headers', (family, code) => {
    const err = rateLimitedError(family, rule, { allowed: false, retryAfterS: 13, remaining: 0, resetS: 13 });
    expect(err.status).toBe(429);
    expect(err.code).toBe(code);
    expect(err.message).toContain('the limit is 100 per 1m');
    expect(err.extra.headers).toMatchObject({
      'retry-after': '13',
      'ratelimit-remaining': '0',
      'ratelimit-reset': '13',
    });
  });
});
