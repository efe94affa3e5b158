/** Redis clients for the cluster's shared state (bus, cache, fences, limits). */
import type { Redis, RedisOptions } from 'ioredis';
import { lazyRequire } from './lazy.js';

const ioredis = lazyRequire<typeof import('ioredis')>('ioredis');

/** A new ioredis client; ioredis itself is loaded with the first, so a start without REDIS_URL never loads it. */
export function newRedis(url: string, options: RedisOptions): Redis {
  return new (ioredis().Redis)(url, options);
}

/**
 * The first commands after a start wait a bounded time for a Redis client's first connection, so
 * that a fresh instance shares state (limits, fences) from its first request instead of spending
 * its first commands offline. Settles on ready, error or end, or after `waitMs`.
 */
export function firstConnection(client: Redis, waitMs: number): { readonly ready: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const ready = new Promise<void>((resolve) => {
    const settle = () => {
      clearTimeout(timer);
      client.off('ready', settle).off('error', settle).off('end', settle);
      resolve();
    };
    client.on('ready', settle).on('error', settle).on('end', settle);
    timer = setTimeout(settle, waitMs);
    timer.unref();
  });
  return { ready, cancel: () => clearTimeout(timer) };
}
