/**
 * Fences in Redis, so that a caller who wrote through one instance reads its write through any
 * other (supabase-js unchanged behind a load balancer). Each instance also keeps its own callers'
 * fences in memory, which answer while Redis is away: then a write is fenced on the instance that
 * took it (and through the header and cookie) until Redis returns.
 */
import type { Lsn } from '../../db/index.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../logger.js';
import { firstConnection, newRedis } from '../redis.js';
import { createMemoryFenceStore } from './memory.js';
import type { FenceStore } from './store.js';

// A read waits for this at most before going on with what this instance knows.
const COMMAND_TIMEOUT_MS = 200;
const PREFIX = 'trellis:fence:';

// Zero-padded hexadecimal, so that Redis compares LSNs as strings; an older LSN only extends the TTL.
const RAISE = `local v = redis.call('GET', KEYS[1])
if (not v) or v < ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`;
const encode = (lsn: Lsn) => lsn.toString(16).padStart(16, '0');

export function createRedisFenceStore(options: { redisUrl: string; log: Logger }): FenceStore {
  const local = createMemoryFenceStore();
  const client = newRedis(options.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: 5000,
    retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 6), 5000),
  });
  let down = false;
  let closing = false;
  client.on('ready', () => {
    if (down) options.log.info('Redis is reachable again: read-your-writes fences are shared again');
    down = false;
  });
  client.on('error', (err: unknown) => {
    if (closing || down) return;
    down = true;
    options.log.warn(
      { err: errorMessage(err) },
      'Redis is unreachable: read-your-writes fences hold per instance (and through x-trellis-lsn) until it returns',
    );
  });
  const { ready: firstConnect } = firstConnection(client, 1000);
  return {
    async note(caller, lsn, ttlMs) {
      local.noteNow(caller, lsn, ttlMs);
      await firstConnect;
      await client.eval(RAISE, 1, PREFIX + caller, encode(lsn), String(ttlMs)).catch(() => undefined);
    },
    async get(caller) {
      const mine = local.getNow(caller);
      await firstConnect;
      const shared = await client.get(PREFIX + caller).catch(() => null);
      const theirs = shared !== null && /^[0-9a-f]{16}$/.test(shared) ? BigInt(`0x${shared}`) : undefined;
      return theirs !== undefined && (mine === undefined || theirs > mine) ? theirs : mine;
    },
    async close() {
      closing = true;
      await client.quit().catch(() => client.disconnect());
    },
  };
}
