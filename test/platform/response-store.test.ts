/** Both response stores keep the seam's promise: an entry is answered only while its counters stand. */
import crypto from 'node:crypto';
import { afterAll, describe, expect, test } from 'vitest';
import { createMemoryResponseStore } from '../../src/platform/cache/memory.js';
import { createRedisResponseStore } from '../../src/platform/cache/redis.js';
import type { CachedResponse, ResponseStore } from '../../src/platform/cache/response-store.js';
import { createLogger } from '../../src/platform/logger.js';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl && process.env.CI !== 'true')
  console.warn('response-store: REDIS_URL is not set, the Redis store is skipped');

const entry = (body: string): CachedResponse => ({
  status: 200,
  headers: [['content-type', 'application/json']],
  body,
  etag: '"t"',
});

const stores: [string, () => ResponseStore, boolean][] = [
  ['memory', () => createMemoryResponseStore({ maxEntries: 3, maxBytes: 1_000_000 }), true],
  [
    'redis',
    () =>
      createRedisResponseStore({
        redisUrl: redisUrl ?? 'redis://127.0.0.1:6379',
        log: createLogger({ level: 'silent', pretty: false }),
      }),
    redisUrl !== undefined || process.env.CI === 'true',
  ],
];

describe.each(stores)('the %s response store', (_, make, enabled) => {
  const store = enabled ? make() : undefined;
  afterAll(async () => store?.close());
  // A scope of its own per run: a shared Redis keeps other runs' counters.
  const scope = crypto.randomBytes(6).toString('hex');
  const all = `${scope}/*`;
  const rooms = `${scope}/public.rooms`;
  const users = `${scope}/public.users`;
  const ready = async (s: ResponseStore) => {
    for (let i = 0; i < 100 && !s.isHealthy(); i++) await new Promise((r) => setTimeout(r, 20));
  };

  test.runIf(enabled)('answers a stored entry until one of its tables changes', async () => {
    const s = store!;
    await ready(s);
    const tables = [all, rooms, users];
    const miss = await s.lookup(`${scope}/k`, tables);
    expect(miss.hit).toBeUndefined();
    await s.store(`${scope}/k`, tables, miss.generations, entry('[1]'), 10_000);
    expect((await s.lookup(`${scope}/k`, tables)).hit).toEqual(entry('[1]'));
    await s.invalidate([`${scope}/public.other`]);
    expect((await s.lookup(`${scope}/k`, tables)).hit).toEqual(entry('[1]'));
    await s.invalidate([users]);
    expect((await s.lookup(`${scope}/k`, tables)).hit).toBeUndefined();
  });

  test.runIf(enabled)('a fill that raced a change is never answered', async () => {
    const s = store!;
    const tables = [all, rooms];
    const before = await s.lookup(`${scope}/race`, tables);
    await s.invalidate([rooms]); // the change arrives while the query runs
    await s.store(`${scope}/race`, tables, before.generations, entry('[old]'), 10_000);
    expect((await s.lookup(`${scope}/race`, tables)).hit).toBeUndefined();
  });

  test.runIf(enabled)('forgetting everything and the TTL', async () => {
    const s = store!;
    const tables = [all, rooms];
    const a = await s.lookup(`${scope}/a`, tables);
    await s.store(`${scope}/a`, tables, a.generations, entry('[a]'), 10_000);
    await s.invalidate([all]);
    expect((await s.lookup(`${scope}/a`, tables)).hit).toBeUndefined();
    const b = await s.lookup(`${scope}/b`, tables);
    await s.store(`${scope}/b`, tables, b.generations, entry('[b]'), 50);
    expect((await s.lookup(`${scope}/b`, tables)).hit).toBeDefined();
    await new Promise((r) => setTimeout(r, 80));
    expect((await s.lookup(`${scope}/b`, tables)).hit).toBeUndefined();
  });
});

test('the memory store evicts the least recently used beyond its bounds', async () => {
  const s = createMemoryResponseStore({ maxEntries: 2, maxBytes: 1_000_000 });
  const put = async (k: string) => s.store(k, ['t'], (await s.lookup(k, ['t'])).generations, entry(k), 10_000);
  await put('a');
  await put('b');
  await s.lookup('a', ['t']); // a is used again: b is the oldest now
  await put('c');
  expect((await s.lookup('a', ['t'])).hit).toBeDefined();
  expect((await s.lookup('b', ['t'])).hit).toBeUndefined();
  expect((await s.lookup('c', ['t'])).hit).toBeDefined();
  const small = createMemoryResponseStore({ maxEntries: 100, maxBytes: 1000 });
  await small.store('big', ['t'], ['0'], entry('x'.repeat(2000)), 10_000);
  expect((await small.lookup('big', ['t'])).hit).toBeUndefined();
});
