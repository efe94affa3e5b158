/** Picks the response store; the interface is in response-store.ts. */
import type { Logger } from '../logger.js';
import { createMemoryResponseStore } from './memory.js';
import { createRedisResponseStore } from './redis.js';
import type { ResponseStore } from './response-store.js';

export { type CachedResponse, type Generations, type Lookup, type ResponseStore } from './response-store.js';

/** Redis when `redisUrl` is set (shared by a cluster), otherwise this process's memory. */
export function createResponseStore(options: {
  redisUrl: string | undefined;
  log: Logger;
  maxEntries: number;
  maxBytes: number;
}): ResponseStore {
  return options.redisUrl === undefined
    ? createMemoryResponseStore(options)
    : createRedisResponseStore({ redisUrl: options.redisUrl, log: options.log });
}
