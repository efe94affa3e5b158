/**
 * What both rate limiters share of rate-limiter-flexible: the counter key of a rule, a rule's
 * in-memory counters (the memory limiter's own, and the Redis limiter's insurance during an
 * outage), one library limiter per rule, and the library's answer turned into a RateLimitResult.
 */
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimitResult, RateLimitRule } from './limiter.js';

/** The key prefix of a rule's counters: `trellis:rl:<rule>:<key>` in Redis. */
export function keyPrefixOf(rule: RateLimitRule): string {
  return `trellis:rl:${rule.name}`;
}

export function memoryLimiterFor(rule: RateLimitRule): RateLimiterMemory {
  return new RateLimiterMemory({ keyPrefix: keyPrefixOf(rule), points: rule.points, duration: rule.durationS });
}

/** One limiter object per rule: they hold the library's per-rule settings (and, in memory, the counters). */
export class LimiterCache<L> {
  readonly #limiters = new Map<string, L>();
  constructor(private readonly create: (rule: RateLimitRule) => L) {}

  get(rule: RateLimitRule): L {
    // A rule whose limits change (a test, a reloaded setting) gets fresh settings, not stale ones.
    const id = `${rule.name}\0${rule.points}\0${rule.durationS}`;
    let limiter = this.#limiters.get(id);
    if (limiter === undefined) {
      limiter = this.create(rule);
      this.#limiters.set(id, limiter);
    }
    return limiter;
  }

  clear(): void {
    this.#limiters.clear();
  }
}

/**
 * rate-limiter-flexible resolves an allowed point and rejects a refused one with the same
 * RateLimiterRes; any other rejection is a store error the caller should see.
 */
export async function consumeOne(
  limiter: { consume(key: string, points: number): Promise<RateLimiterRes> },
  key: string,
): Promise<RateLimitResult> {
  try {
    const res = await limiter.consume(key, 1);
    return { allowed: true, retryAfterS: 0, remaining: res.remainingPoints, resetS: secondsOf(res.msBeforeNext) };
  } catch (err) {
    if (!(err instanceof RateLimiterRes)) throw err;
    // Never 0 when refused: a client told "retry after 0 s" retries at once and is refused again.
    const retryAfterS = Math.max(1, secondsOf(err.msBeforeNext));
    return { allowed: false, retryAfterS, remaining: 0, resetS: retryAfterS };
  }
}

const secondsOf = (ms: number): number => Math.max(0, Math.ceil(ms / 1000));
