/**
 * Two instances on one database and one Redis share the data API's budgets: a user's REST
 * requests and realtime messages, and an address's anonymous requests (X-Forwarded-For trusted
 * with TRUST_PROXY), are counted once for the cluster.
 */
import crypto from 'node:crypto';
import type { SupabaseClient } from '@supabase/supabase-js';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { closeRealtime, subscribed } from '../../helpers/realtime.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { NOTES_MIGRATION, randomAddress, watchedClient } from './helpers.js';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl && process.env.CI !== 'true')
  console.warn('rate-limit cluster: REDIS_URL is not set, the shared-budget tests are skipped');

/** A user's access token for a fresh `sub`, so runs sharing one Redis never share a budget. */
async function userToken(server: TestServer): Promise<string> {
  return new SignJWT({ role: 'authenticated', sub: crypto.randomUUID() })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(server.jwtSecret));
}

describe.runIf(redisUrl !== undefined || process.env.CI === 'true')('two instances sharing Redis', () => {
  let a: TestServer;
  let b: TestServer;
  const clients: SupabaseClient[] = [];

  beforeAll(async () => {
    const env = {
      REDIS_URL: redisUrl!,
      TRUST_PROXY: 'true',
      RATE_LIMIT_REST: '10/1m',
      RATE_LIMIT_REALTIME: '5/1m',
    };
    a = await startTestServer({ migrations: NOTES_MIGRATION, env });
    b = await startTestServer({ migrations: NOTES_MIGRATION, env, databaseUrl: a.databaseUrl });
  });
  afterAll(async () => {
    await closeRealtime(...clients);
    await b?.stop();
    await a?.stop();
  });

  test("a user's requests on either instance spend one budget", async () => {
    const token = await userToken(a);
    const onA = watchedClient(a, { token });
    const onB = watchedClient(b, { token });
    for (let i = 0; i < 5; i++) {
      expect((await onA.client.from('notes').select('id')).status).toBe(200);
      expect((await onB.client.from('notes').select('id')).status).toBe(200);
    }
    expect(onB.last().get('ratelimit-remaining')).toBe('0');
    expect((await onA.client.from('notes').select('id')).status).toBe(429);
    expect((await onB.client.from('notes').select('id')).status).toBe(429);
    expect(Number(onB.last().get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Another user is not affected, on either instance.
    expect(
      (
        await watchedClient(b, { token: await userToken(b) })
          .client.from('notes')
          .select('id')
      ).status,
    ).toBe(200);
  });

  test('anonymous callers are counted per forwarded address across the cluster', async () => {
    const address = randomAddress();
    const onA = watchedClient(a, { headers: { 'x-forwarded-for': `10.9.9.9, ${address}` } });
    const onB = watchedClient(b, { headers: { 'x-forwarded-for': address } });
    for (let i = 0; i < 5; i++) {
      expect((await onA.client.from('notes').select('id')).status).toBe(200);
      expect((await onB.client.from('notes').select('id')).status).toBe(200);
    }
    expect((await onA.client.from('notes').select('id')).status).toBe(429);
    // Another address has its own budget.
    const other = watchedClient(a, { headers: { 'x-forwarded-for': randomAddress() } });
    expect((await other.client.from('notes').select('id')).status).toBe(200);
    expect(other.last().get('ratelimit-remaining')).toBe('9');
  });

  test("a user's realtime messages on either instance spend one budget", async () => {
    const token = await userToken(a);
    // Joins spend the socket's address's budget: a fresh one, through the proxy header.
    const address = randomAddress();
    class ProxiedSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { headers: { 'x-forwarded-for': address } });
      }
    }
    const topic = `room-${crypto.randomUUID()}`;
    const channelOn = async (server: TestServer) => {
      const { client } = watchedClient(server, { realtimeTransport: ProxiedSocket });
      clients.push(client);
      await client.realtime.setAuth(token);
      return subscribed(client.channel(topic, { config: { broadcast: { ack: true } } }));
    };
    const chA = await channelOn(a);
    const chB = await channelOn(b);
    const send = (ch: typeof chA, n: number) => ch.send({ type: 'broadcast', event: 'm', payload: { n } });
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await send(chA, i));
    for (let i = 3; i < 7; i++) results.push(await send(chB, i));
    expect(results).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'error', 'error']);
    expect(await send(chA, 7)).toBe('error');

    // The broadcast API is the same family: one point per request, for the same user.
    const res = await fetch(`${a.url}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: { apikey: a.anonKey, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ topic, event: 'api', payload: {} }] }),
    });
    expect(res.status).toBe(429);
    expect(await res.json()).toMatchObject({ code: 'over_request_rate_limit' });
  });
});
