/**
 * The socket side of postgres_changes against a fake ChangeHub (the real feed is built separately):
 * the join passes config.postgres_changes and the claims, replies with the ids, forwards deliver()
 * as postgres_changes messages realtime-js understands, refuses the join on {ok:false}, updates
 * the claims on access_token, and unsubscribes on leave and on close.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Db } from '../../src/db/index.js';
import { createMemoryBus } from '../../src/platform/bus/memory.js';
import { createLogger } from '../../src/platform/logger.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { createTokens } from '../../src/platform/tokens.js';
import { signApiKeys, type ApiKeys } from '../../src/project/secrets.js';
import type { ChangeData, ChangeHub, ChangeSubscriber } from '../../src/realtime/changes/contract.js';
import { createRealtime, type Realtime } from '../../src/realtime/socket.js';
import { adminUrl, testDb } from '../helpers/db.js';
import { subscribed, waitFor } from '../helpers/realtime.js';

const SECRET = 'test-secret-with-at-least-32-characters!';
let httpServer: http.Server;
let realtime: Realtime;
let db: Db;
let keys: ApiKeys;
let url: string;
const subscribers: ChangeSubscriber[] = [];
let unsubscribed = 0;
let refuseNext: string | undefined;

const fakeHub: ChangeHub = {
  async subscribe(subscriber) {
    if (refuseNext !== undefined) {
      const message = refuseNext;
      refuseNext = undefined;
      return { ok: false, message };
    }
    subscribers.push(subscriber);
    return { ok: true, unsubscribe: () => void unsubscribed++ };
  },
  problem: () => undefined,
  close: async () => undefined,
};

const mint = (sub: string) =>
  new SignJWT({ role: 'authenticated', sub })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(SECRET));

const clients: SupabaseClient[] = [];
const client = () => {
  const c = createClient(url, keys.anonKey, {
    auth: { persistSession: false },
    realtime: { transport: WebSocket as unknown as never },
  });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  keys = await signApiKeys(SECRET);
  db = testDb(adminUrl());
  const config = loadConfig({}, { JWT_SECRET: SECRET, LOG_LEVEL: 'silent' });
  realtime = createRealtime({
    config,
    db,
    tokens: createTokens(SECRET),
    log: createLogger({ level: 'silent', pretty: false }),
    metrics: createMetrics(() => undefined),
    bus: createMemoryBus(),
    changes: fakeHub,
    clusterId: 'changes-test',
  });
  httpServer = http.createServer((_req, res) => res.writeHead(404).end());
  httpServer.on('upgrade', (req, socket, head) => realtime.handleUpgrade(req, socket, head));
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const c of clients) void c.realtime.disconnect();
  await realtime.close();
  await new Promise((r) => httpServer.close(r));
  await db.close();
});

const row: ChangeData = {
  schema: 'public',
  table: 'messages',
  commit_timestamp: '2026-01-01T00:00:00Z',
  type: 'INSERT',
  columns: [
    { name: 'id', type: 'int8' },
    { name: 'body', type: 'text' },
  ],
  record: { id: 1, body: 'hello' },
  old_record: {},
  errors: null,
};

describe('postgres_changes on the socket', () => {
  test('the join hands the requests and claims to the hub; deliveries arrive as realtime-js payloads', async () => {
    const c = client();
    const token = await mint('user-1');
    await c.realtime.setAuth(token);
    const inserts: unknown[] = [];
    const all: unknown[] = [];
    const system: unknown[] = [];
    const ch = c
      .channel('db')
      .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'messages', filter: 'room_id=eq.7' }, (p) =>
        inserts.push(p),
      )
      .on('postgres_changes', { event: '*', schema: 'public' }, (p) => all.push(p))
      .on('system', {}, (m) => system.push(m));
    await subscribed(ch);
    const sub = subscribers.at(-1)!;
    expect(sub.subscriptions.map(({ id: _id, ...r }) => r)).toEqual([
      { event: 'INSERT', schema: 'public', table: 'messages', filter: 'room_id=eq.7' },
      { event: '*', schema: 'public' },
    ]);
    expect(sub.claims).toMatchObject({ role: 'authenticated', sub: 'user-1' });
    await waitFor(() => system.length === 1);
    expect(system[0]).toMatchObject({
      extension: 'postgres_changes',
      status: 'ok',
      message: 'Subscribed to PostgreSQL',
      channel: 'db',
    });

    const [first, second] = sub.subscriptions.map((s) => s.id) as [number, number];
    sub.deliver([first, second], row);
    sub.deliver([second], { ...row, type: 'DELETE', record: {}, old_record: { id: 1 } });
    await waitFor(() => all.length === 2);
    expect(inserts).toEqual([
      {
        schema: 'public',
        table: 'messages',
        commit_timestamp: '2026-01-01T00:00:00Z',
        eventType: 'INSERT',
        new: { id: 1, body: 'hello' },
        old: {},
        errors: null,
      },
    ]);
    expect(all[1]).toMatchObject({ eventType: 'DELETE', old: { id: 1 }, new: {} });

    // A refreshed token reaches the hub's subscriber.
    await c.realtime.setAuth(await mint('user-1-again'));
    await waitFor(() => sub.claims.sub === 'user-1-again');

    const before = unsubscribed;
    await c.removeChannel(ch);
    await waitFor(() => unsubscribed === before + 1);
  });

  test('a refusal from the hub refuses the join with its message; a closed socket unsubscribes', async () => {
    const c = client();
    refuseNext =
      'Unable to subscribe to changes with given parameters: table "nope" is not in publication supabase_realtime';
    await expect(
      subscribed(
        c.channel('db2').on('postgres_changes', { event: '*', schema: 'public', table: 'nope' }, () => undefined),
      ),
    ).rejects.toThrow(/table "nope" is not in publication/);
    await c.removeAllChannels();
    const d = client();
    await subscribed(
      d
        .channel('db3')
        .on('postgres_changes', { event: 'UPDATE', schema: 'public', table: 'messages' }, () => undefined),
    );
    const before = unsubscribed;
    void d.realtime.disconnect();
    await waitFor(() => unsubscribed === before + 1);
  });
});
