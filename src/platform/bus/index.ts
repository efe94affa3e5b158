/** Picks the bus implementation; the interface is in bus.ts. */
import type { Logger } from '../logger.js';
import type { Bus } from './bus.js';
import { createMemoryBus } from './memory.js';
import { createRedisBus } from './redis.js';

export type { Bus, BusListener } from './bus.js';

/** Redis pub/sub when `redisUrl` is set (a cluster), otherwise in-process (one instance). */
export function createBus(options: { redisUrl: string | undefined; log: Logger }): Bus {
  return options.redisUrl === undefined
    ? createMemoryBus(options.log)
    : createRedisBus({ redisUrl: options.redisUrl, log: options.log });
}
