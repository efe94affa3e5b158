import { describe, expect, test } from 'vitest';
import { PresenceTracker } from '../../src/realtime/presence.js';

const meta = (ref: string, extra: Record<string, unknown> = {}) => ({ phx_ref: ref, ...extra });

describe('PresenceTracker', () => {
  test('track, update and untrack give Phoenix diffs; state groups metas by key', () => {
    const p = new PresenceTracker();
    expect(p.track('t', 'me', 'alice', meta('r1', { s: 1 }))).toEqual({
      joins: { alice: { metas: [meta('r1', { s: 1 })] } },
      leaves: {},
    });
    p.track('t', 'me', 'alice', meta('r2'));
    expect(p.state('t')).toEqual({ alice: { metas: [meta('r1', { s: 1 }), meta('r2')] } });
    expect(p.track('t', 'me', 'alice', meta('r3', { phx_ref_prev: 'r1' }), 'r1')).toEqual({
      joins: { alice: { metas: [meta('r3', { phx_ref_prev: 'r1' })] } },
      leaves: { alice: { metas: [meta('r1', { s: 1 })] } },
    });
    expect(p.untrack('t', 'r2')).toEqual({ joins: {}, leaves: { alice: { metas: [meta('r2')] } } });
    expect(p.untrack('t', 'nope')).toEqual({ joins: {}, leaves: {} });
    expect(p.state('other')).toEqual({});
  });

  test("remote diffs apply once; an origin's full state replaces what it had; a dropped origin leaves", () => {
    const p = new PresenceTracker();
    p.track('t', 'me', 'mine', meta('m1'));
    const diff = { joins: { bob: { metas: [meta('b1')] } }, leaves: {} };
    expect(p.applyDiff('t', 'peer', diff)).toEqual(diff);
    expect(p.applyDiff('t', 'peer', diff)).toEqual({ joins: {}, leaves: {} });
    // Another origin cannot remove what is not its own.
    expect(p.applyDiff('t', 'intruder', { joins: {}, leaves: { mine: { metas: [meta('m1')] } } })).toEqual({
      joins: {},
      leaves: {},
    });
    const changes = p.replaceOrigin('peer', { t: { bob: [meta('b2')] }, u: { carol: [meta('c1')] } });
    expect(Object.fromEntries(changes)).toEqual({
      t: { joins: { bob: { metas: [meta('b2')] } }, leaves: { bob: { metas: [meta('b1')] } } },
      u: { joins: { carol: { metas: [meta('c1')] } }, leaves: {} },
    });
    expect(p.stateOf('me')).toEqual({ t: { mine: [meta('m1')] } });
    expect(Object.fromEntries(p.dropOrigin('peer'))).toEqual({
      t: { joins: {}, leaves: { bob: { metas: [meta('b2')] } } },
      u: { joins: {}, leaves: { carol: { metas: [meta('c1')] } } },
    });
    expect(p.state('t')).toEqual({ mine: { metas: [meta('m1')] } });
  });
});
