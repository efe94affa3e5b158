/**
 * Rate limits counted in Redis, shared by every instance of a cluster. Redis being down must
 * neither crash the process nor hold up requests: commands fail fast while disconnected, and each
 * rule's in-memory insurance limiter answers instead, so limits keep holding per instance until
 * Redis returns.
 */
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../logger.js';
import { firstConnection, newRedis } from '../redis.js';
import { consumeOne, keyPrefixOf, LimiterCache, memoryLimiterFor } from './flexible.js';
import type { RateLimiter } from './limiter.js';

// A healthy Redis answers in well under a millisecond; one that takes longer than this is treated
// as down for this request rather than making a sign-in wait for it.
const COMMAND_TIMEOUT_MS = 1000;
// How long the first requests after start wait for the first connection, so a fresh instance
// counts in Redis from its first request instead of in memory.
const FIRST_CONNECT_WAIT_MS = 1000;

export function createRedisRateLimiter(options: { redisUrl: string; log: Logger }): RateLimiter {
  const { log } = options;
  const client = newRedis(options.redisUrl, {
    // Queued commands would hold requests for the whole outage; failing lets the insurance answer.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: 5000,
    // Keep reconnecting for as long as the process lives, backing off to one attempt per 5 s.
    retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 6), 5000),
  });

  // One warning when Redis goes away and one line when it is back, never one per request.
  let state: 'connecting' | 'up' | 'down' = 'connecting';
  let closing = false;
  client.on('ready', () => {
    if (state === 'down') log.info('Redis is reachable again: rate limits are shared across instances again');
    state = 'up';
  });
  // Without an 'error' listener ioredis reports every failed reconnect attempt on stderr.
  client.on('error', (err: unknown) => {
    if (closing || state === 'down') return;
    state = 'down';
    log.warn({ err: errorMessage(err) }, 'Redis is unreachable: rate limits are counted per instance until it returns');
  });

  const first = firstConnection(client, FIRST_CONNECT_WAIT_MS);
  const firstConnect = first.ready;

  const limiters = new LimiterCache(
    (rule) =>
      new RateLimiterRedis({
        storeClient: client,
        keyPrefix: keyPrefixOf(rule),
        points: rule.points,
        duration: rule.durationS,
        // Skip the round trip while disconnected: straight to the insurance limiter.
        rejectIfRedisNotReady: true,
        insuranceLimiter: memoryLimiterFor(rule),
        // A key already over its limit is refused from memory until its window ends, so a client
        // hammering one endpoint costs no Redis traffic.
        inMemoryBlockOnConsumed: rule.points + 1,
      }),
  );

  return {
    async consume(rule, key) {
      await firstConnect;
      return consumeOne(limiters.get(rule), key);
    },
    isHealthy: () => client.status === 'ready',
    async close() {
      closing = true;
      limiters.clear();
      first.cancel();
      // QUIT lets Redis finish what it has; a client that is not connected just stops reconnecting.
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
      else client.disconnect();
    },
  };
}
