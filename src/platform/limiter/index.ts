/**
 * Rate limits: a fixed number of points per key (a client IP, a user, the whole server) per window.
 * In-process counters for one instance; Redis counters when REDIS_URL is set, so that every
 * instance behind a load balancer takes from the same budget.
 */
import type { Logger } from '../logger.js';
import type { RateLimiter } from './limiter.js';
import { createMemoryRateLimiter } from './memory.js';
import { createRedisRateLimiter } from './redis.js';

export type { RateLimiter, RateLimitResult, RateLimitRule } from './limiter.js';

export function createRateLimiter(options: { redisUrl: string | undefined; log: Logger }): RateLimiter {
  return options.redisUrl === undefined
    ? createMemoryRateLimiter()
    : createRedisRateLimiter({ redisUrl: options.redisUrl, log: options.log });
}
