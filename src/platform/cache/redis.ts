/**
 * The response store in Redis, shared by every instance. One MGET per lookup reads the entry and
 * the counters it must match; an invalidation is one INCR per table. Redis being away must not fail
 * a request: the cache then reports unhealthy and callers read from the database.
 */
import { newRedis } from '../redis.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../logger.js';
import { sameGenerations, type CachedResponse, type Generations, type ResponseStore } from './response-store.js';

const ENTRY = 'trellis:rc:e:';
const COUNTER = 'trellis:rc:g:';

interface Stored {
  readonly g: Generations;
  readonly r: CachedResponse;
}

export function createRedisResponseStore(options: { redisUrl: string; log: Logger }): ResponseStore {
  const { log } = options;
  const redis = newRedis(options.redisUrl, {
    connectTimeout: 5000,
    maxRetriesPerRequest: 1,
    // A lookup that waits longer than the database would take is worse than no cache.
    commandTimeout: 500,
    enableOfflineQueue: false,
    retryStrategy: (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 6), 5000),
  });
  let down = false;
  redis.on('error', (err: unknown) => {
    if (down) return;
    down = true;
    log.warn({ err: errorMessage(err) }, 'response cache: Redis is unreachable; reads go to the database');
  });
  redis.on('ready', () => {
    if (down) log.info('response cache: Redis is reachable again');
    down = false;
  });
  const counterKeys = (tables: readonly string[]) => tables.map((t) => COUNTER + t);
  return {
    async lookup(key, tables) {
      const [raw, ...counters] = await redis.mget(ENTRY + key, ...counterKeys(tables));
      const generations = counters.map((c) => c ?? '0');
      if (raw === null || raw === undefined) return { hit: undefined, generations };
      const stored = JSON.parse(raw) as Stored;
      return { hit: sameGenerations(stored.g, generations) ? stored.r : undefined, generations };
    },
    async store(key, _tables, generations, entry, ttlMs) {
      // Stored even if a counter moved meanwhile: the lookup compares, and the TTL removes it.
      await redis.set(ENTRY + key, JSON.stringify({ g: generations, r: entry } satisfies Stored), 'PX', ttlMs);
    },
    async invalidate(tables) {
      if (tables.length === 0) return;
      const pipeline = redis.pipeline();
      for (const table of tables) pipeline.incr(COUNTER + table);
      await pipeline.exec();
    },
    isHealthy: () => redis.status === 'ready',
    async close() {
      if (redis.status !== 'ready') return redis.disconnect();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
