/**
 * Two instances on one database and one Redis: an answer cached through either is forgotten on
 * both within about 100 ms of an insert made through the other, and Redis going away makes the
 * instances read from the database rather than answer stale entries.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { sleep } from '../../helpers/realtime.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { tcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.js';
import { logicalDatabase } from '../../realtime/changes/helpers.js';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl && process.env.CI !== 'true')
  console.warn('rest cache cluster: REDIS_URL is not set, the two-instance cache tests are skipped');

const FIXTURE = `
create table public.rooms (id int primary key, name text not null);
comment on table public.rooms is '@cache 30s';
insert into public.rooms values (1, 'one');
alter publication supabase_realtime add table public.rooms;
`;

function tracked(server: TestServer): { client: SupabaseClient; last: () => string | null } {
  let last: string | null = null;
  const client = createClient(server.url, server.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: WebSocket as unknown as never },
    global: {
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        last = response.headers.get('x-trellis-cache');
        return response;
      },
    },
  });
  return { client, last: () => last };
}

describe.runIf(redisUrl !== undefined || process.env.CI === 'true')('the cache on two instances sharing Redis', () => {
  let database: Awaited<ReturnType<typeof logicalDatabase>>;
  let a: TestServer;
  let b: TestServer;
  // Both reach Redis through a proxy the last test cuts (the machine's Redis serves other tests).
  let redis: TcpProxy;

  beforeAll(async () => {
    database = await logicalDatabase();
    const target = new URL(redisUrl ?? 'redis://127.0.0.1:6379');
    redis = await tcpProxy(Number(target.port || 6379), target.hostname);
    const env = { REDIS_URL: `redis://127.0.0.1:${redis.port}${target.pathname}` };
    a = await startTestServer({ databaseUrl: database.url, env, migrations: { '20240101000000_rooms.sql': FIXTURE } });
    b = await startTestServer({ databaseUrl: database.url, env });
  }, 60_000);
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await redis?.close();
    await database?.stop();
  });

  test('an insert through one instance is seen through both within about 100 ms', async () => {
    const onA = tracked(a);
    const onB = tracked(b);
    // Cached once the change stream is live on each (the first reads may bypass it).
    for (const side of [onA, onB]) {
      const deadline = Date.now() + 15_000;
      while (side.last() !== 'hit' && Date.now() < deadline) {
        await side.client.from('rooms').select('id,name').order('id');
        await sleep(20);
      }
      expect(side.last()).toBe('hit');
    }
    for (const [n, writer] of [
      [2, onA],
      [3, onB],
    ] as const) {
      expect((await writer.client.from('rooms').insert({ id: n, name: `room ${n}` })).error).toBeNull();
      const inserted = performance.now();
      const seen = await Promise.all(
        [onA, onB].map(async (side) => {
          for (;;) {
            const { data } = await side.client.from('rooms').select('id,name').order('id');
            if (data?.length === n) return performance.now() - inserted;
            if (performance.now() - inserted > 3000) return Infinity;
            await sleep(5);
          }
        }),
      );
      // About 100 ms on a quiet machine (WAL -> consumer -> Redis -> INCR); the bound leaves room for a busy CI box.
      for (const ms of seen) expect(ms).toBeLessThan(500);
    }
    const metrics = await (
      await fetch(`${b.url}/metrics`, {
        headers: { apikey: b.serviceRoleKey, authorization: `Bearer ${b.serviceRoleKey}` },
      })
    ).text();
    const sum = Number(/trellis_rest_cache_invalidation_lag_seconds_sum (\S+)/.exec(metrics)?.[1]);
    const count = Number(/trellis_rest_cache_invalidation_lag_seconds_count (\S+)/.exec(metrics)?.[1]);
    console.log(`invalidation lag on b: ${((sum / count) * 1000).toFixed(1)} ms mean over ${count}`);
    expect(count).toBeGreaterThanOrEqual(2);
    // And cached again afterwards (past the second forget, 100 ms after the change: feed.ts).
    await sleep(150);
    for (const _ of [1, 2]) await onB.client.from('rooms').select('id,name').order('id');
    expect(onB.last()).toBe('hit');
  });

  test('Redis gone: both read from the database, never a stale entry; back: cached again', async () => {
    const sides = [tracked(a), tracked(b)];
    for (const side of sides) {
      const deadline = Date.now() + 5000;
      while (side.last() !== 'hit' && Date.now() < deadline) {
        await side.client.from('rooms').select('id').order('id');
        await sleep(20);
      }
      expect(side.last()).toBe('hit');
    }
    await redis.cut();
    // A write the instances cannot hear of while Redis is away (the notice goes over Redis).
    await a.sql.query(`insert into public.rooms values (10, 'during the outage')`);
    for (const side of sides) {
      const deadline = Date.now() + 10_000;
      let ids: number[] = [];
      while (Date.now() < deadline) {
        const { data } = await side.client.from('rooms').select('id').order('id');
        ids = (data ?? []).map((r: { id: number }) => r.id);
        if (ids.includes(10)) break;
        await sleep(50);
      }
      expect(ids).toContain(10);
      expect(side.last()).not.toBe('hit');
    }
    expect((await fetch(`${a.url}/ready`)).status).toBe(200);
    await redis.restore();
    for (const side of sides) {
      const deadline = Date.now() + 15_000;
      while (side.last() !== 'hit' && Date.now() < deadline) {
        await side.client.from('rooms').select('id').order('id');
        await sleep(50);
      }
      expect(side.last()).toBe('hit');
      const { data } = await side.client.from('rooms').select('id').order('id');
      expect((data ?? []).map((r: { id: number }) => r.id)).toContain(10);
    }
  }, 60_000);
});
