/**
 * Two Trellis instances on one database and one Redis: broadcasts, presence and server-side
 * messages reach clients on both; Redis going away (a TCP proxy between instance A and Redis is
 * closed) degrades /ready, keeps local delivery, and cross-instance delivery resumes when it returns.
 */
import net from 'node:net';
import type { SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort } from '../../helpers/cli.js';
import { closeRealtime, RawSocket, sleep, subscribed, waitFor } from '../../helpers/realtime.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl && process.env.CI !== 'true')
  console.warn('realtime-cluster: REDIS_URL is not set, the cluster tests are skipped');

/** A TCP proxy to Redis that can be cut and restored. */
class Proxy {
  #server: net.Server | undefined;
  readonly #sockets = new Set<net.Socket>();
  constructor(
    readonly port: number,
    private readonly target: URL,
  ) {}

  async open(): Promise<void> {
    this.#server = net.createServer((client) => {
      const upstream = net.connect(Number(this.target.port || 6379), this.target.hostname);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.#server!.listen(this.port, '127.0.0.1', resolve));
  }

  async cut(): Promise<void> {
    const closed = new Promise((resolve) => this.#server?.close(resolve));
    for (const s of this.#sockets) s.destroy();
    await closed;
  }
}

describe.runIf(redisUrl !== undefined || process.env.CI === 'true')('two instances sharing Redis', () => {
  let a: TestServer;
  let b: TestServer;
  let proxy: Proxy;
  const clients: SupabaseClient[] = [];
  const on = (server: TestServer) => {
    const c = supabaseClient(server);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    proxy = new Proxy(await freePort(), new URL(redisUrl!));
    await proxy.open();
    // Instance A reaches Redis through the proxy, B directly.
    a = await startTestServer({ env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` } });
    b = await startTestServer({ env: { REDIS_URL: redisUrl! }, databaseUrl: a.databaseUrl });
  });
  afterAll(async () => {
    await closeRealtime(...clients);
    await b?.stop();
    await a?.stop();
    await proxy?.cut();
  });

  test('broadcasts, the broadcast API and realtime.send reach clients on both instances', async () => {
    const gotA: unknown[] = [];
    const gotB: unknown[] = [];
    const chA = await subscribed(
      on(a)
        .channel('shared')
        .on('broadcast', { event: '*' }, (m) => gotA.push(m.payload)),
    );
    const chB = await subscribed(
      on(b)
        .channel('shared')
        .on('broadcast', { event: '*' }, (m) => gotB.push(m.payload)),
    );
    await sleep(300);
    await chA.send({ type: 'broadcast', event: 'm', payload: { from: 'a' } });
    await chB.send({ type: 'broadcast', event: 'm', payload: { from: 'b' } });
    await waitFor(() => gotA.length === 1 && gotB.length === 1);
    expect(gotA).toEqual([{ from: 'b' }]);
    expect(gotB).toEqual([{ from: 'a' }]);

    const res = await fetch(`${b.url}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: { apikey: b.serviceRoleKey, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ topic: 'shared', event: 'api', payload: { from: 'api' } }] }),
    });
    expect(res.status).toBe(202);
    await a.sql.query(`select realtime.send('{"from":"sql"}'::jsonb, 'sql', 'shared', false)`);
    await waitFor(() => gotA.length === 3 && gotB.length === 3);
    await sleep(200);
    // Each message exactly once on each instance.
    for (const got of [gotA, gotB]) {
      expect(got).toHaveLength(3);
      expect(got).toContainEqual({ from: 'api' });
      expect(got).toContainEqual({ from: 'sql' });
    }
  });

  test("presence is one picture across instances, and a stopped instance's presences leave", async () => {
    type State = Record<string, unknown[]>;
    const chA = on(a).channel('hall', { config: { presence: { key: 'ann' } } });
    chA.on('presence', { event: 'sync' }, () => undefined);
    await subscribed(chA);
    await chA.track({ at: 'a' });
    const chB = on(b).channel('hall', { config: { presence: { key: 'ben' } } });
    chB.on('presence', { event: 'sync' }, () => undefined);
    await subscribed(chB);
    await waitFor(() => (chB.presenceState() as State).ann, 10_000, 'B to see ann from its presence_state');
    await chB.track({ at: 'b' });
    await waitFor(() => (chA.presenceState() as State).ben, 10_000, 'A to see ben');
    await chB.untrack();
    await waitFor(() => !(chA.presenceState() as State).ben, 10_000, 'ben to leave on A');

    // A third instance joins the cluster, tracks, and stops: its presences leave everywhere.
    const c = await startTestServer({ env: { REDIS_URL: redisUrl! }, databaseUrl: a.databaseUrl });
    try {
      const chC = on(c).channel('hall', { config: { presence: { key: 'cat' } } });
      chC.on('presence', { event: 'sync' }, () => undefined);
      await subscribed(chC);
      await waitFor(() => (chC.presenceState() as State).ann, 10_000, 'C to see ann');
      await chC.track({ at: 'c' });
      await waitFor(() => (chA.presenceState() as State).cat, 10_000, 'A to see cat');
      // Stopping closes realtime sockets with "going away".
      const raw = await RawSocket.open(c.url, c.anonKey);
      await c.stop();
      expect(await raw.waitClose()).toBe(1001);
    } catch (err) {
      await c.stop().catch(() => undefined);
      throw err;
    }
    await waitFor(() => !(chA.presenceState() as State).cat, 10_000, 'cat to leave when C stopped');
  });

  test('Redis going away: /ready says degraded, local delivery goes on, cross-instance delivery resumes', async () => {
    const gotA: unknown[] = [];
    const gotB: unknown[] = [];
    const a1 = on(a);
    const chA = await subscribed(
      a1
        .channel('outage', { config: { broadcast: { self: true } } })
        .on('broadcast', { event: '*' }, (m) => gotA.push(m.payload)),
    );
    const chB = on(b).channel('outage', { config: { presence: { key: 'watcher' } } });
    chB.on('broadcast', { event: '*' }, (m) => gotB.push(m.payload)).on('presence', { event: 'sync' }, () => undefined);
    await subscribed(chB);
    await sleep(200);

    await proxy.cut();
    const degraded = await (async () => {
      for (let i = 0; i < 100; i++) {
        const body = (await (await fetch(`${a.url}/ready`)).json()) as { status: string; degraded?: string[] };
        // On a server without logical decoding, a postgres_changes note is there all along.
        if (body.degraded?.some((d) => d.includes('Redis'))) return body;
        await sleep(100);
      }
      return undefined;
    })();
    expect(degraded).toMatchObject({
      status: 'ready',
      degraded: expect.arrayContaining([expect.stringMatching(/Redis is unreachable/)]),
    });
    expect((await fetch(`${b.url}/ready`)).status).toBe(200);

    // Local delivery on A continues; B misses what A sends meanwhile.
    await chA.send({ type: 'broadcast', event: 'm', payload: { n: 1 } });
    await waitFor(() => gotA.length === 1);
    // A presence tracked on A during the outage.
    const tracker = on(a).channel('outage', { config: { presence: { key: 'during-outage' } } });
    await subscribed(tracker);
    await tracker.track({});
    await sleep(300);
    expect(gotB).toEqual([]);

    await proxy.open();
    const redisNotes = async () =>
      (((await (await fetch(`${a.url}/ready`)).json()) as { degraded?: string[] }).degraded ?? []).filter((d) =>
        d.includes('Redis'),
      );
    for (let i = 0; i < 150; i++) {
      if ((await redisNotes()).length === 0) break;
      await sleep(100);
    }
    expect(await redisNotes()).toEqual([]);
    await chA.send({ type: 'broadcast', event: 'm', payload: { n: 2 } });
    await waitFor(() => gotB.length === 1, 5000, 'B to get a message after Redis returned');
    expect(gotB).toEqual([{ n: 2 }]);
    // The presence missed during the outage arrives with the state exchange after reconnecting.
    await waitFor(
      () => (chB.presenceState() as Record<string, unknown>)['during-outage'],
      15_000,
      'the missed presence to reach B',
    );
  });
});
