/**
 * Rate limits of `trellis start --workers N` without Redis: the primary holds the counters
 * (rate-limiter-flexible's RateLimiterClusterMaster) and each worker asks it over node:cluster's IPC
 * channel, so N workers take from one budget, as one process does. A primary that does not answer
 * within a second (it is busy, or gone, when the worker exits anyway) leaves the worker counting on
 * its own meanwhile, as a Redis outage does.
 */
import { RateLimiterCluster, RateLimiterClusterMaster } from 'rate-limiter-flexible';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../logger.js';
import { consumeOne, keyPrefixOf, LimiterCache, memoryLimiterFor } from './flexible.js';
import type { RateLimiter } from './limiter.js';

const ANSWER_TIMEOUT_MS = 1000;

/** In the primary, before the workers are forked. */
export function serveClusterRateLimits(): void {
  new RateLimiterClusterMaster();
}

export function createClusterRateLimiter(log: Logger): RateLimiter {
  const shared = new LimiterCache(
    (rule) =>
      new RateLimiterCluster({
        // The primary keeps the first settings a prefix arrives with: a changed rule is a new prefix.
        keyPrefix: `${keyPrefixOf(rule)}:${rule.points}:${rule.durationS}`,
        points: rule.points,
        duration: rule.durationS,
        timeoutMs: ANSWER_TIMEOUT_MS,
      }),
  );
  const own = new LimiterCache((rule) => memoryLimiterFor(rule));
  let healthy = true;
  return {
    async consume(rule, key) {
      try {
        const result = await consumeOne(shared.get(rule), key);
        if (!healthy) log.info('the primary answers again: rate limits are shared by the workers again');
        healthy = true;
        return result;
      } catch (err) {
        if (healthy)
          log.warn(
            { err: errorMessage(err) },
            'the primary does not answer: rate limits are counted per worker meanwhile',
          );
        healthy = false;
        return consumeOne(own.get(rule), key);
      }
    },
    isHealthy: () => healthy,
    close: async () => {
      shared.clear();
      own.clear();
    },
  };
}
