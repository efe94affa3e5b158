/**
 * The cluster logic of RealtimeHub without Redis: several hubs on one in-process bus behave as
 * instances. A bus wrapper can drop one hub's messages (a crash, a lost diff) to show that a silent
 * instance's presences leave and that a missed diff is repaired by the state exchange.
 */
import { afterEach, describe, expect, test } from 'vitest';
import type { Bus } from '../../src/platform/bus/index.js';
import { createMemoryBus } from '../../src/platform/bus/memory.js';
import { createLogger } from '../../src/platform/logger.js';
import { createMetrics } from '../../src/platform/metrics.js';
import type { OutFrame } from '../../src/realtime/codec.js';
import { RealtimeHub, type Member } from '../../src/realtime/hub.js';
import { createRealtimeMetrics } from '../../src/realtime/metrics.js';
import { waitFor } from '../helpers/realtime.js';

const shared = createMemoryBus();
const hubs: RealtimeHub[] = [];

/** A view of the shared bus whose publishes can be switched off. */
function lossyBus(): Bus & { mute: boolean; dropNext: number } {
  const view = {
    mute: false,
    dropNext: 0,
    publish: async (topic: string, message: Uint8Array | string) => {
      if (view.mute) return;
      if (view.dropNext > 0) {
        view.dropNext -= 1;
        return;
      }
      await shared.publish(topic, message);
    },
    subscribe: (topic: string, listener: (m: Uint8Array | string) => void) => shared.subscribe(topic, listener),
    shared: true,
    isHealthy: () => true,
    close: async () => undefined,
  };
  return view;
}

function hub(bus: Bus): RealtimeHub {
  const h = new RealtimeHub({
    bus,
    clustered: true,
    clusterId: 'hub-test',
    log: createLogger({ level: 'silent', pretty: false }),
    metrics: createRealtimeMetrics(createMetrics(() => undefined)),
    heartbeatMs: 50,
  });
  hubs.push(h);
  return h;
}

function member(topic = 'realtime:room'): Member & { frames: string[] } {
  const frames: string[] = [];
  return {
    vsn: '2.0.0',
    topic,
    receivesBroadcast: true,
    receivesPresence: true,
    frames,
    send: (f: OutFrame) => void frames.push(f.data.toString()),
  };
}

afterEach(async () => {
  for (const h of hubs.splice(0)) await h.close();
});

describe('RealtimeHub across instances', () => {
  test('a broadcast reaches members on other hubs once, and not the sender', async () => {
    const [a, b] = [hub(lossyBus()), hub(lossyBus())];
    const [ma, mb, mb2] = [member(), member(), member()];
    a.join('public:room', ma);
    b.join('public:room', mb);
    b.join('public:other', mb2);
    a.broadcast('public:room', { event: 'e', json: '{"n":1}' }, ma);
    await waitFor(() => mb.frames.length === 1);
    expect(JSON.parse(mb.frames[0]!)).toEqual([
      null,
      null,
      'realtime:room',
      'broadcast',
      { type: 'broadcast', event: 'e', payload: { n: 1 } },
    ]);
    expect(ma.frames).toEqual([]);
    expect(mb2.frames).toEqual([]);
  });

  test("presence: a newcomer hub learns the others' state; a silent hub's presences leave", async () => {
    const busA = lossyBus();
    const a = hub(busA);
    a.track('public:room', 'ann', { phx_ref: 'r1', at: 'a' });
    const b = hub(lossyBus());
    await waitFor(() => b.presence.state('public:room').ann, 2000, 'b to learn ann');
    const mb = member();
    b.join('public:room', mb);
    // A goes silent (it crashed): within three heartbeats B forgets it and says so to its members.
    busA.mute = true;
    await waitFor(() => !b.presence.state('public:room').ann, 2000, 'ann to leave');
    const diff = JSON.parse(mb.frames.at(-1)!) as [null, null, string, string, { leaves: Record<string, unknown> }];
    expect(diff[3]).toBe('presence_diff');
    expect(Object.keys(diff[4].leaves)).toEqual(['ann']);
  });

  test('a lost diff is repaired: the next heartbeat shows the gap and the full state is exchanged', async () => {
    const busA = lossyBus();
    const a = hub(busA);
    const b = hub(lossyBus());
    a.track('public:room', 'ann', { phx_ref: 'r1' });
    await waitFor(() => b.presence.state('public:room').ann, 2000, 'b to see ann');
    busA.dropNext = 1;
    a.track('public:room', 'bob', { phx_ref: 'r2' });
    await waitFor(() => b.presence.state('public:room').bob, 2000, 'b to repair the missed join');
    expect(b.presence.state('public:room')).toEqual(a.presence.state('public:room'));
  });

  test('a hub that stops says goodbye: its presences leave at once', async () => {
    const a = hub(lossyBus());
    const b = hub(lossyBus());
    a.track('public:room', 'ann', { phx_ref: 'r1' });
    await waitFor(() => b.presence.state('public:room').ann, 2000);
    await a.close();
    await waitFor(() => !b.presence.state('public:room').ann, 500);
  });
});
