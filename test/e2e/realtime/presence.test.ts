import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { closeRealtime, RawSocket, subscribed, waitFor } from '../../helpers/realtime.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const HEARTBEAT_TIMEOUT_MS = 2000;
let server: TestServer;
const clients: SupabaseClient[] = [];
// Clients heartbeat well inside the server's (shortened) timeout.
const client = () => {
  const c = createClient(server.url, server.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: WebSocket as unknown as never, heartbeatIntervalMs: 400 },
  });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  server = await startTestServer({ env: { REALTIME_HEARTBEAT_TIMEOUT_MS: String(HEARTBEAT_TIMEOUT_MS) } });
});
afterAll(async () => {
  await closeRealtime(...clients);
  await server.stop();
});

type State = Record<string, { presence_ref: string; [k: string]: unknown }[]>;

describe('presence through realtime-js', () => {
  test('track, presence_state to newcomers, several connections per key, untrack and leave', async () => {
    const [a, b, c] = [client(), client(), client()];
    const joins: string[] = [];
    const leaves: string[] = [];
    const chA = a.channel('lobby', { config: { presence: { key: 'alice' } } });
    chA
      .on('presence', { event: 'join' }, ({ key }) => joins.push(key))
      .on('presence', { event: 'leave' }, ({ key }) => leaves.push(key));
    await subscribed(chA);
    expect(await chA.track({ status: 'online' })).toBe('ok');
    await waitFor(() => joins.includes('alice'));

    // A second connection of alice and one of bob.
    const chB = await subscribed(
      b.channel('lobby', { config: { presence: { key: 'alice' } } }).on('presence', { event: 'sync' }, () => undefined),
    );
    await chB.track({ status: 'phone' });
    const chC = c.channel('lobby', { config: { presence: { key: 'bob' } } });
    chC.on('presence', { event: 'sync' }, () => undefined);
    await subscribed(chC);
    await chC.track({ status: 'away' });

    // The newcomer got the state (alice's first meta) then the diffs.
    const state = await waitFor(() => {
      const s = chC.presenceState() as State;
      return s.alice?.length === 2 && s.bob?.length === 1 ? s : undefined;
    });
    expect(state.alice!.map((m) => m.status).sort()).toEqual(['online', 'phone']);
    expect(state.bob![0]).toMatchObject({ status: 'away', presence_ref: expect.any(String) });
    await waitFor(() => (chA.presenceState() as State).bob?.length === 1);

    // Updating a track replaces the meta (one per connection), never adds one: the diff names the
    // replaced meta in leaves and the new one (phx_ref_prev) in joins.
    const raw = await RawSocket.open(server.url, server.anonKey);
    try {
      await raw.join('lobby', { config: { presence: { key: 'watcher', enabled: true } } });
      await raw.waitFrame((f) => f[3] === 'presence_state');
      await chB.track({ status: 'phone-2' });
      const diff = (await raw.waitFrame((f) => f[3] === 'presence_diff'))[4] as {
        joins: Record<string, { metas: Record<string, unknown>[] }>;
        leaves: Record<string, { metas: Record<string, unknown>[] }>;
      };
      expect(diff.joins.alice!.metas).toEqual([
        { status: 'phone-2', phx_ref: expect.any(String), phx_ref_prev: diff.leaves.alice!.metas[0]!.phx_ref },
      ]);
      expect(diff.leaves.alice!.metas).toEqual([{ status: 'phone', phx_ref: expect.any(String) }]);
    } finally {
      raw.close();
    }
    // (realtime-js 2.109 strips phx_ref from the metas it already holds for a key when another meta of
    // that key joins, so a client's own view of multi-connection keys is checked with fresh clients.)
    const fresh = async () => {
      const d = client();
      const ch = d.channel('lobby');
      ch.on('presence', { event: 'sync' }, () => undefined);
      await subscribed(ch);
      return waitFor(() => (Object.keys(ch.presenceState()).length > 0 ? (ch.presenceState() as State) : undefined));
    };
    const seen = await fresh();
    expect(seen.alice!.map((m) => m.status).sort()).toEqual(['online', 'phone-2']);

    await chC.untrack();
    await waitFor(() => leaves.includes('bob'));
    expect((chA.presenceState() as State).bob).toBeUndefined();
    await b.removeChannel(chB);
    await waitFor(() => leaves.filter((k) => k === 'alice').length === 1);
    const after = await fresh();
    expect(after.alice!.map((m) => m.status)).toEqual(['online']);
    expect(after.bob).toBeUndefined();
  });

  test('a connection that drops leaves at once; one that goes silent leaves within a heartbeat timeout', async () => {
    const watcher = client();
    const ch = watcher.channel('drop-room');
    ch.on('presence', { event: 'sync' }, () => undefined);
    await subscribed(ch);

    const dropped = await RawSocket.open(server.url, server.anonKey);
    const j1 = await dropped.join('drop-room', { config: { presence: { key: 'dropper' } } });
    expect(
      (
        await dropped.push(j1.joinRef, 'realtime:drop-room', 'presence', {
          type: 'presence',
          event: 'track',
          payload: { x: 1 },
        })
      ).status,
    ).toBe('ok');
    await waitFor(() => (ch.presenceState() as State).dropper);
    dropped.close();
    await waitFor(() => !(ch.presenceState() as State).dropper, 2000, 'the dropped socket to leave');

    const silent = await RawSocket.open(server.url, server.anonKey);
    const j2 = await silent.join('drop-room', { config: { presence: { key: 'silent' } } });
    await silent.push(j2.joinRef, 'realtime:drop-room', 'presence', { type: 'presence', event: 'track', payload: {} });
    await waitFor(() => (ch.presenceState() as State).silent);
    const since = Date.now();
    // No heartbeat from now on: the server closes it and its presence leaves.
    await waitFor(() => !(ch.presenceState() as State).silent, HEARTBEAT_TIMEOUT_MS * 3, 'the silent socket to leave');
    expect(Date.now() - since).toBeLessThan(HEARTBEAT_TIMEOUT_MS + 1000);
    expect(await silent.waitClose()).toBe(1001);
    // The watcher, which heartbeats, is still subscribed.
    expect(ch.state).toBe('joined');
  });

  test('presence payloads must be objects; a join without presence enabled gets the state on its first track', async () => {
    const raw = await RawSocket.open(server.url, server.anonKey);
    try {
      const { joinRef } = await raw.join('p2', { config: { presence: { key: 'k', enabled: false } } });
      expect(
        await raw.push(joinRef, 'realtime:p2', 'presence', { type: 'presence', event: 'track', payload: 'nope' }),
      ).toEqual({
        status: 'error',
        response: { reason: 'Presence track payload must be a map' },
      });
      expect(raw.frames.some((f) => Array.isArray(f) && f[3] === 'presence_state')).toBe(false);
      await raw.push(joinRef, 'realtime:p2', 'presence', { type: 'presence', event: 'track', payload: { a: 1 } });
      await raw.waitFrame((f) => f[3] === 'presence_state');
      const diff = await raw.waitFrame((f) => f[3] === 'presence_diff');
      expect(diff[4]).toMatchObject({ joins: { k: { metas: [{ a: 1, phx_ref: expect.any(String) }] } }, leaves: {} });
    } finally {
      raw.close();
    }
  });
});
