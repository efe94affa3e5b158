/**
 * Studio's live channels on two instances sharing one Redis: each shows its own sockets and says
 * so (`scope: "instance"`), while the presence it reports for a topic it also serves is the
 * cluster's (every instance holds every presence entry).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { closeRealtime, subscribed } from '../../helpers/realtime.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl && process.env.CI !== 'true') console.warn('studio live-cluster: REDIS_URL is not set, skipped');

let a: TestServer;
let b: TestServer;

const channels = async (server: TestServer) => {
  const res = await fetch(`${server.url}/studio/api/realtime/channels`, {
    headers: { authorization: `Bearer ${server.serviceRoleKey}` },
  });
  return (await res.json()) as {
    scope: string;
    channels: { topic: string; sockets: number; presence: { metas: number } }[];
  };
};

beforeAll(async () => {
  if (!redisUrl) return;
  a = await startTestServer({ env: { REDIS_URL: redisUrl } });
  b = await startTestServer({ env: { REDIS_URL: redisUrl }, databaseUrl: a.databaseUrl });
}, 60_000);

afterAll(async () => {
  await b?.stop();
  await a?.stop();
});

test.skipIf(!redisUrl && process.env.CI !== 'true')(
  "each instance counts its own sockets, and the cluster's presence",
  async () => {
    const onA = supabaseClient(a);
    const onB = supabaseClient(b);
    try {
      const alice = onA.channel('cluster-room', { config: { presence: { key: 'alice' } } });
      await subscribed(alice);
      await alice.track({ online: true });
      await expect.poll(async () => (await channels(a)).channels[0]?.presence.metas, { timeout: 10_000 }).toBe(1);
      const fromB = await channels(b);
      expect(fromB.scope).toBe('instance');
      expect(fromB.channels).toEqual([]);

      const bob = onB.channel('cluster-room', { config: { presence: { key: 'bob' } } });
      await subscribed(bob);
      await bob.track({ online: true });
      await expect
        .poll(async () => (await channels(b)).channels[0], { timeout: 10_000 })
        .toMatchObject({ topic: 'cluster-room', sockets: 1, presence: { keys: 2, metas: 2 } });
      expect((await channels(a)).channels[0]).toMatchObject({ sockets: 1 });
    } finally {
      await closeRealtime(onA, onB);
    }
  },
  30_000,
);
