/**
 * What Studio's realtime page shows: the channels open on this instance, read from the hub's own
 * memory. Presence comes from the presence tracker, which holds every instance's entries (they are
 * exchanged over the bus), so a topic's presence counts the cluster's; its sockets and
 * subscriptions are this instance's.
 */
import type { ChangeSubscriptionRequest } from './changes/contract.js';
import type { PresenceMap } from './presence.js';

/** One joined channel's settings, as its join asked for them. */
export interface MemberView {
  readonly broadcast: { readonly self: boolean; readonly ack: boolean };
  readonly presenceEnabled: boolean;
  readonly postgresChanges: readonly ChangeSubscriptionRequest[];
}

export interface LiveChannel {
  /** The channel's name (supabase-js `channel(name)`), without `realtime:`. */
  readonly topic: string;
  readonly private: boolean;
  /** Channels joined to the topic on this instance (one per socket that joined it). */
  readonly sockets: number;
  readonly presence: {
    readonly keys: number;
    readonly metas: number;
    readonly entries: readonly { readonly key: string; readonly metas: number }[];
  };
  readonly postgresChanges: readonly {
    readonly schema: string;
    readonly table: string | null;
    readonly event: string;
    readonly filter: string | null;
    readonly count: number;
  }[];
  /** The joins' broadcast settings, each with how many channels asked for it. */
  readonly broadcast: readonly { readonly self: boolean; readonly ack: boolean; readonly count: number }[];
  /** Channels that have presence on (the default). */
  readonly presenceEnabled: number;
}

/** A topic's channels and presence state → its view; pure, tested by table. */
export function describeTopic(key: string, members: readonly MemberView[], presence: PresenceMap): LiveChannel {
  const changes = new Map<string, LiveChannel['postgresChanges'][number]>();
  const broadcast = new Map<string, LiveChannel['broadcast'][number]>();
  for (const m of members) {
    for (const s of m.postgresChanges) {
      const id = JSON.stringify([s.schema, s.table ?? null, s.event, s.filter ?? null]);
      const seen = changes.get(id);
      changes.set(id, {
        schema: s.schema,
        table: s.table ?? null,
        event: s.event,
        filter: s.filter ?? null,
        count: (seen?.count ?? 0) + 1,
      });
    }
    const id = `${m.broadcast.self}/${m.broadcast.ack}`;
    broadcast.set(id, { ...m.broadcast, count: (broadcast.get(id)?.count ?? 0) + 1 });
  }
  const entries = Object.entries(presence).map(([k, v]) => ({ key: k, metas: v.metas.length }));
  return {
    topic: key.slice(key.indexOf(':') + 1),
    private: key.startsWith('private:'),
    sockets: members.length,
    presence: { keys: entries.length, metas: entries.reduce((n, e) => n + e.metas, 0), entries },
    postgresChanges: [...changes.values()],
    broadcast: [...broadcast.values()],
    presenceEnabled: members.filter((m) => m.presenceEnabled).length,
  };
}
