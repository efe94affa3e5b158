import type { SupabaseClient } from '@supabase/supabase-js';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { closeRealtime, RawSocket, subscribed, waitFor } from '../../helpers/realtime.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

let server: TestServer;
const clients: SupabaseClient[] = [];
const MAX_PAYLOAD = 65536;

beforeAll(async () => {
  server = await startTestServer({
    env: {
      REALTIME_MAX_EVENTS_PER_SECOND: '20',
      REALTIME_MAX_CHANNELS_PER_CLIENT: '3',
      REALTIME_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD),
      REALTIME_MAX_BUFFERED_BYTES: '65536',
    },
  });
});
afterAll(async () => {
  await closeRealtime(...clients);
  await server.stop();
});

/** A realtime-js client on a topic, to show that other connections are unaffected. */
async function bystander(topic: string) {
  const c = supabaseClient(server);
  clients.push(c);
  const got: unknown[] = [];
  const ch = await subscribed(
    c
      .channel(topic, { config: { broadcast: { self: true } } })
      .on('broadcast', { event: '*' }, (m) => got.push(m.payload)),
  );
  return {
    async stillWorks() {
      const before = got.length;
      await ch.send({ type: 'broadcast', event: 'ping', payload: { n: before } });
      await waitFor(() => got.length === before + 1, 5000, 'the bystander to get its echo');
    },
  };
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`, { headers: { apikey: server.serviceRoleKey } })).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('bad frames close only their own socket', () => {
  test.each([
    ['text that is not JSON', 'hello there'],
    ['JSON that is not a 2.0.0 array', '{"topic":"x"}'],
    ['an array of the wrong length', '[null,"1","realtime:x","phx_join"]'],
    ['a topic that is not a string', '[null,"1",7,"phx_join",{}]'],
    ['a payload that is not an object', '[null,"1","realtime:x","phx_join",[1,2]]'],
    ['a binary frame of an unknown kind', Buffer.from([9, 0, 0, 0, 0, 0, 1])],
    ['a binary push shorter than its header says', Buffer.from([3, 5, 5, 5, 5, 0, 1, 65])],
    [
      'a binary JSON push whose payload is not JSON',
      Buffer.concat([Buffer.from([3, 0, 0, 9, 1, 0, 1]), Buffer.from('realtime:xe{')]),
    ],
  ])('%s: close code 1007', async (_name, frame) => {
    const other = await bystander('bad-frames');
    const raw = await RawSocket.open(server.url, server.anonKey);
    raw.ws.send(frame);
    expect(await raw.waitClose()).toBe(1007);
    await other.stillWorks();
  });
});

describe('protocol errors get a phx_reply error', () => {
  test('unknown topics and events, topics without a name, malformed postgres_changes, a table the change hub refuses', async () => {
    const raw = await RawSocket.open(server.url, server.anonKey);
    try {
      expect(await raw.push(null, 'realtime:never-joined', 'broadcast', { type: 'broadcast', event: 'x' })).toEqual({
        status: 'error',
        response: { reason: 'unmatched topic' },
      });
      expect(await raw.push(null, 'elsewhere', 'phx_join', {})).toEqual({
        status: 'error',
        response: { reason: 'unmatched topic' },
      });
      expect((await raw.join('', {})).reply).toEqual({
        status: 'error',
        response: { reason: 'TopicNameRequired: You must provide a topic name' },
      });
      const { joinRef } = await raw.join('room');
      expect(await raw.push(joinRef, 'realtime:room', 'make_coffee', {})).toEqual({
        status: 'error',
        response: { reason: 'unknown event "make_coffee"' },
      });
      expect(await raw.push(joinRef, 'realtime:room', 'broadcast', { type: 'broadcast', payload: {} })).toEqual({
        status: 'error',
        response: { reason: 'a broadcast needs a string "event"' },
      });
      expect(
        (await raw.join('pg', { config: { postgres_changes: [{ event: 'TRUNCATE', schema: 'public' }] } })).reply
          .response,
      ).toEqual({
        reason: 'InvalidJoinPayload: postgres_changes event must be INSERT, UPDATE, DELETE or *',
      });
      // A table that does not exist is refused by the change hub (today's placeholder refuses every
      // postgres_changes join; the feed refuses tables outside supabase_realtime): the socket carries its reason.
      const pg = await raw.join('pg', {
        config: { postgres_changes: [{ event: '*', schema: 'public', table: 'no_such_table' }] },
      });
      expect(pg.reply.status).toBe('error');
      expect(pg.reply.response.reason).toEqual(expect.any(String));
      expect(await raw.push(null, 'phoenix', 'heartbeat', {})).toEqual({ status: 'ok', response: {} });
    } finally {
      raw.close();
    }
  });

  test('too many channels on one socket', async () => {
    const raw = await RawSocket.open(server.url, server.anonKey);
    try {
      for (const t of ['a', 'b', 'c']) expect((await raw.join(t)).reply.status).toBe('ok');
      expect((await raw.join('d')).reply).toEqual({
        status: 'error',
        response: { reason: 'ChannelRateLimitReached: Too many channels' },
      });
      // Joining a topic again replaces it (the old join is closed) and does not count twice.
      const again = await raw.join('a');
      expect(again.reply.status).toBe('ok');
    } finally {
      raw.close();
    }
  });
});

describe('limits', () => {
  test('an oversized broadcast gets an error reply; a frame far over the limit closes with 1009', async () => {
    const other = await bystander('big');
    const raw = await RawSocket.open(server.url, server.anonKey);
    const { joinRef } = await raw.join('big', { config: { broadcast: { ack: true } } });
    const big = 'x'.repeat(MAX_PAYLOAD + 10);
    expect(
      await raw.push(joinRef, 'realtime:big', 'broadcast', { type: 'broadcast', event: 'e', payload: { big } }),
    ).toEqual({
      status: 'error',
      response: { reason: `Payload too large: the limit is ${MAX_PAYLOAD} bytes` },
    });
    expect(
      (await raw.push(joinRef, 'realtime:big', 'broadcast', { type: 'broadcast', event: 'e', payload: { small: 1 } }))
        .status,
    ).toBe('ok');
    raw.send(joinRef, raw.nextRef(), 'realtime:big', 'broadcast', {
      type: 'broadcast',
      event: 'e',
      payload: { huge: 'x'.repeat(3 * MAX_PAYLOAD) },
    });
    expect(await raw.waitClose()).toBe(1009);
    await other.stillWorks();
  });

  test('a flood: pushes over the rate get error replies, and a socket that keeps on is closed with 1008', async () => {
    const other = await bystander('flood');
    const raw = await RawSocket.open(server.url, server.anonKey);
    const { joinRef } = await raw.join('flood', { config: { broadcast: { ack: true } } });
    for (let i = 0; i < 200; i++)
      raw.send(joinRef, raw.nextRef(), 'realtime:flood', 'broadcast', {
        type: 'broadcast',
        event: 'e',
        payload: { i },
      });
    expect(await raw.waitClose()).toBe(1008);
    const replies = raw.frames.filter(
      (f): f is [string, string, string, string, { status: string; response: { reason?: string } }] =>
        Array.isArray(f) && f[3] === 'phx_reply',
    );
    expect(replies.some((r) => r[4].response.reason === 'ClientRateLimitReached: Too many messages per second')).toBe(
      true,
    );
    expect(replies.filter((r) => r[4].status === 'ok').length).toBeLessThanOrEqual(21);
    await other.stillWorks();
  });

  test('a slow consumer is disconnected instead of buffering without bound', async () => {
    const slow = await RawSocket.open(server.url, server.anonKey);
    await slow.join('firehose');
    // Stop reading: the kernel buffers fill, then the server's send buffer grows.
    (slow.ws as unknown as { _socket: Socket })._socket.pause();
    const before = await metric('trellis_realtime_dropped_total{reason="slow_consumer"}');
    const chunk = 'y'.repeat(60_000);
    const messages = Array.from({ length: 50 }, (_, i) => ({ topic: 'firehose', event: 'e', payload: { i, chunk } }));
    for (let i = 0; i < 40; i++) {
      const res = await fetch(`${server.url}/realtime/v1/api/broadcast`, {
        method: 'POST',
        headers: { apikey: server.serviceRoleKey, 'content-type': 'application/json' },
        body: JSON.stringify({ messages }),
      });
      expect(res.status).toBe(202);
      if ((await metric('trellis_realtime_dropped_total{reason="slow_consumer"}')) > before) break;
    }
    expect(await metric('trellis_realtime_dropped_total{reason="slow_consumer"}')).toBe(before + 1);
    expect(await metric('trellis_realtime_connections')).toBeGreaterThanOrEqual(0);
    slow.close();
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
  });
});
