/**
 * Pub/sub between the parts of one instance and, with REDIS_URL, between instances. Delivery is
 * at most once and only to subscribers present when a message is published: the bus carries
 * realtime traffic (broadcasts, presence diffs, change events), never state that must survive.
 */
import type { Logger } from '../logger.js';
import { createMemoryBus } from './memory.js';
import { createRedisBus } from './redis.js';

export type BusListener = (message: Uint8Array | string) => void;

export interface Bus {
  /** Sends `message` to every subscriber of `topic` on every instance, this one included. */
  publish(topic: string, message: Uint8Array | string): Promise<void>;
  /** Calls `onMessage` for each message published to `topic` from now on; returns the unsubscribe. */
  subscribe(topic: string, onMessage: (message: Uint8Array | string) => void): () => void;
  /** False while the shared transport (Redis) is unreachable; local delivery continues meanwhile. */
  isHealthy(): boolean;
  close(): Promise<void>;
}

/** Redis pub/sub when `redisUrl` is set (a cluster), otherwise in-process (one instance). */
export function createBus(options: { redisUrl: string | undefined; log: Logger }): Bus {
  return options.redisUrl === undefined ? createMemoryBus(options.log) : createRedisBus({ redisUrl: options.redisUrl, log: options.log });
}
