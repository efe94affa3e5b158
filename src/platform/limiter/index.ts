/**
 * Rate limits: a fixed number of points per key (a client IP, a user, the whole server) per window.
 * In-process counters for one instance; Redis counters when REDIS_URL is set, so that every
 * instance behind a load balancer takes from the same budget.
 */
import type { Logger } from '../logger.js';
import { createMemoryRateLimiter } from './memory.js';
import { createRedisRateLimiter } from './redis.js';

export interface RateLimitRule {
  /** Names the counter family (`sign_in`); also part of the Redis key. */
  readonly name: string;
  readonly points: number;
  readonly durationS: number;
}

export interface RateLimitResult {
  readonly allowed: boolean;
  /** Seconds until a refused key may try again (a `Retry-After` value); 0 when allowed. */
  readonly retryAfterS: number;
  /** Points left in the current window after this one. */
  readonly remaining: number;
}

export interface RateLimiter {
  /** Takes one point from `key` under `rule` (e.g. rule sign_in, key = client IP). */
  consume(rule: RateLimitRule, key: string): Promise<RateLimitResult>;
  /** False while the shared store (Redis) is unreachable and each instance counts on its own. */
  isHealthy(): boolean;
  close(): Promise<void>;
}

export function createRateLimiter(options: { redisUrl: string | undefined; log: Logger }): RateLimiter {
  return options.redisUrl === undefined
    ? createMemoryRateLimiter()
    : createRedisRateLimiter({ redisUrl: options.redisUrl, log: options.log });
}

