/** Rate limits counted in this process: the embedded default, and Redis's fallback during an outage. */
import { consumeOne, LimiterCache, memoryLimiterFor } from './flexible.js';
import type { RateLimiter } from './limiter.js';

export function createMemoryRateLimiter(): RateLimiter {
  const limiters = new LimiterCache((rule) => memoryLimiterFor(rule));
  return {
    consume: (rule, key) => consumeOne(limiters.get(rule), key),
    isHealthy: () => true,
    close: async () => limiters.clear(),
  };
}
