/** Picks the bus implementation; the interface is in bus.ts. */
import type { Logger } from '../logger.js';
import type { Bus } from './bus.js';
import { createMemoryBus } from './memory.js';
import { createPostgresBus } from './postgres.js';
import { createRedisBus } from './redis.js';

export type { Bus, BusListener } from './bus.js';

/** `auto`: Redis when REDIS_URL is set, PostgreSQL NOTIFY when several workers share a box, else memory. */
export type BusKind = 'auto' | 'memory' | 'postgres';

export interface BusOptions {
  readonly kind: BusKind;
  readonly redisUrl: string | undefined;
  /** The server login's URL (LISTEN/NOTIFY); undefined where there is no database (some tools). */
  readonly databaseUrl: string | undefined;
  /** More than one process serves this data folder (`--workers N`). */
  readonly workers: number;
  readonly log: Logger;
}

export function createBus(options: BusOptions): Bus {
  const { kind, redisUrl, databaseUrl, log } = options;
  if (kind === 'memory') return createMemoryBus(log);
  if (kind === 'auto' && redisUrl !== undefined) return createRedisBus({ redisUrl, log });
  // The memory bus is the fastest for one process (no round trip): NOTIFY only where it is needed.
  if (databaseUrl !== undefined && (kind === 'postgres' || options.workers > 1))
    return createPostgresBus({ url: databaseUrl, log });
  return createMemoryBus(log);
}
