/**
 * The RateLimiter seam: a fixed number of points per key (a client IP, a user, the whole server)
 * per window.
 */

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
  /** Seconds until the current window ends and the key's points are back (a `RateLimit-Reset` value). */
  readonly resetS: number;
}

export interface RateLimiter {
  /** Takes one point from `key` under `rule` (e.g. rule sign_in, key = client IP). */
  consume(rule: RateLimitRule, key: string): Promise<RateLimitResult>;
  /** False while the shared store (Redis) is unreachable and each instance counts on its own. */
  isHealthy(): boolean;
  close(): Promise<void>;
}
