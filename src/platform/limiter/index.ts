/**
 * Rate limits: a fixed number of points per key (a client IP, a user, the whole server) per window.
 * In-process counters for one instance; the primary's when this is a worker of `--workers N`; Redis
 * counters when REDIS_URL is set, so that every instance behind a load balancer takes from the
 * same budget.
 */
import type { Logger } from '../logger.js';
import { createClusterRateLimiter } from './cluster.js';
import type { RateLimiter } from './limiter.js';
import { createMemoryRateLimiter } from './memory.js';
import { createRedisRateLimiter } from './redis.js';

export type { RateLimiter, RateLimitResult, RateLimitRule } from './limiter.js';
export { serveClusterRateLimits } from './cluster.js';

export function createRateLimiter(options: {
  redisUrl: string | undefined;
  clusterWorker?: boolean;
  log: Logger;
}): RateLimiter {
  if (options.redisUrl !== undefined) return createRedisRateLimiter({ redisUrl: options.redisUrl, log: options.log });
  return options.clusterWorker ? createClusterRateLimiter(options.log) : createMemoryRateLimiter();
}
