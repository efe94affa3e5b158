/**
 * The first commands after a start wait a bounded time for a Redis client's first connection, so
 * that a fresh instance shares state (limits, fences) from its first request instead of spending
 * its first commands offline. Settles on ready, error or end, or after `waitMs`.
 */
import type { Redis } from 'ioredis';

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
