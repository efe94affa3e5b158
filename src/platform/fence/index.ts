/**
 * Read-your-writes with read replicas: the HTTP side (fences.ts) over a store of callers' last
 * writes, in memory on one instance or in Redis when REDIS_URL is set.
 */
import type { Logger } from '../logger.js';
import { createReadFences as fencesOver, type ReadFences } from './fences.js';
import { createMemoryFenceStore } from './memory.js';
import { createRedisFenceStore } from './redis.js';

export { LSN_COOKIE, LSN_HEADER, type ReadFences } from './fences.js';
export type { FenceStore } from './store.js';

export function createReadFences(options: {
  readonly enabled: boolean;
  readonly ttlMs: number;
  readonly redisUrl: string | undefined;
  readonly log: Logger;
}): ReadFences & { close(): Promise<void> } {
  const store =
    !options.enabled || options.redisUrl === undefined
      ? createMemoryFenceStore()
      : createRedisFenceStore({ redisUrl: options.redisUrl, log: options.log });
  return { ...fencesOver({ enabled: options.enabled, ttlMs: options.ttlMs, store }), close: () => store.close() };
}
