/**
 * Read-your-writes with read replicas: the HTTP side (fences.ts) over a store of callers' last
 * writes, in memory on one instance, in the primary's memory for the workers of `--workers N`, or
 * in Redis when REDIS_URL is set.
 */
import type { Logger } from '../logger.js';
import { createReadFences as fencesOver, type ReadFences } from './fences.js';
import { createClusterFenceStore } from './cluster.js';
import { createMemoryFenceStore } from './memory.js';
import { createRedisFenceStore } from './redis.js';

export { LSN_COOKIE, LSN_HEADER, type ReadFences } from './fences.js';
export type { FenceStore } from './store.js';
export { serveClusterFences } from './cluster.js';

export function createReadFences(options: {
  readonly enabled: boolean;
  readonly ttlMs: number;
  readonly redisUrl: string | undefined;
  readonly clusterWorker?: boolean;
  readonly log: Logger;
}): ReadFences & { close(): Promise<void> } {
  const store = !options.enabled
    ? createMemoryFenceStore()
    : options.redisUrl !== undefined
      ? createRedisFenceStore({ redisUrl: options.redisUrl, log: options.log })
      : options.clusterWorker
        ? createClusterFenceStore(options.log)
        : createMemoryFenceStore();
  return { ...fencesOver({ enabled: options.enabled, ttlMs: options.ttlMs, store }), close: () => store.close() };
}
