/**
 * Presence state, as Phoenix.Presence shapes it: per topic, per presence key, a list of metas,
 * each with its `phx_ref`. Every instance keeps the whole picture: its own sockets' presences, and
 * those of the other instances, learnt from their diffs and full states over the bus (cluster.ts).
 * Pure: no sockets, no bus, no clock.
 */

export type Meta = Readonly<Record<string, unknown>> & { readonly phx_ref: string };
export type PresenceMap = Record<string, { metas: Meta[] }>;
export interface PresenceDiff {
  readonly joins: PresenceMap;
  readonly leaves: PresenceMap;
}
/** One origin's presences: topic -> key -> metas. */
export type OriginState = Record<string, Record<string, Meta[]>>;

interface Entry {
  readonly key: string;
  readonly meta: Meta;
  readonly origin: string;
}

export const isEmptyDiff = (diff: PresenceDiff) =>
  Object.keys(diff.joins).length === 0 && Object.keys(diff.leaves).length === 0;

function add(map: PresenceMap, key: string, meta: Meta): void {
  (map[key] ??= { metas: [] }).metas.push(meta);
}

export class PresenceTracker {
  /** topic -> phx_ref -> entry */
  readonly #topics = new Map<string, Map<string, Entry>>();

  /** The `presence_state` payload of a topic. */
  state(topic: string): PresenceMap {
    const state: PresenceMap = {};
    for (const entry of this.#topics.get(topic)?.values() ?? []) add(state, entry.key, entry.meta);
    return state;
  }

  /** Adds (or, with `previousRef`, replaces) one presence; returns the diff to send. */
  track(topic: string, origin: string, key: string, meta: Meta, previousRef?: string): PresenceDiff {
    const diff: PresenceDiff = { joins: {}, leaves: {} };
    if (previousRef !== undefined) this.#remove(topic, previousRef, diff);
    let entries = this.#topics.get(topic);
    if (!entries) this.#topics.set(topic, (entries = new Map<string, Entry>()));
    entries.set(meta.phx_ref, { key, meta, origin });
    add(diff.joins, key, meta);
    return diff;
  }

  untrack(topic: string, ref: string): PresenceDiff {
    const diff: PresenceDiff = { joins: {}, leaves: {} };
    this.#remove(topic, ref, diff);
    return diff;
  }

  /** Applies another instance's diff; returns what actually changed here (a repeat changes nothing). */
  applyDiff(topic: string, origin: string, diff: PresenceDiff): PresenceDiff {
    const effective: PresenceDiff = { joins: {}, leaves: {} };
    for (const { metas } of Object.values(diff.leaves)) {
      for (const meta of metas) {
        const entry = this.#topics.get(topic)?.get(meta.phx_ref);
        if (entry && entry.origin === origin) this.#remove(topic, meta.phx_ref, effective);
      }
    }
    for (const [key, { metas }] of Object.entries(diff.joins)) {
      for (const meta of metas) {
        let entries = this.#topics.get(topic);
        if (!entries) this.#topics.set(topic, (entries = new Map<string, Entry>()));
        if (entries.has(meta.phx_ref)) continue;
        entries.set(meta.phx_ref, { key, meta, origin });
        add(effective.joins, key, meta);
      }
    }
    return effective;
  }

  /** Replaces everything `origin` had with `state` (its full state); returns the diff per topic. */
  replaceOrigin(origin: string, state: OriginState): Map<string, PresenceDiff> {
    const diffs = new Map<string, PresenceDiff>();
    const diffOf = (topic: string) => {
      let diff = diffs.get(topic);
      if (!diff) diffs.set(topic, (diff = { joins: {}, leaves: {} }));
      return diff;
    };
    const incoming = new Map<string, Set<string>>();
    for (const [topic, keys] of Object.entries(state)) {
      const refs = new Set<string>();
      incoming.set(topic, refs);
      for (const [key, metas] of Object.entries(keys)) {
        for (const meta of metas) {
          refs.add(meta.phx_ref);
          let entries = this.#topics.get(topic);
          if (!entries) this.#topics.set(topic, (entries = new Map<string, Entry>()));
          if (entries.has(meta.phx_ref)) continue;
          entries.set(meta.phx_ref, { key, meta, origin });
          add(diffOf(topic).joins, key, meta);
        }
      }
    }
    for (const [topic, entries] of this.#topics) {
      for (const [ref, entry] of entries) {
        if (entry.origin === origin && !incoming.get(topic)?.has(ref)) this.#remove(topic, ref, diffOf(topic));
      }
    }
    for (const [topic, diff] of diffs) if (isEmptyDiff(diff)) diffs.delete(topic);
    return diffs;
  }

  /** Forgets an origin (an instance that stopped or went silent). */
  dropOrigin(origin: string): Map<string, PresenceDiff> {
    return this.replaceOrigin(origin, {});
  }

  /** Everything `origin` has, for a full-state message. */
  stateOf(origin: string): OriginState {
    const state: OriginState = {};
    for (const [topic, entries] of this.#topics) {
      for (const entry of entries.values()) {
        if (entry.origin !== origin) continue;
        ((state[topic] ??= {})[entry.key] ??= []).push(entry.meta);
      }
    }
    return state;
  }

  #remove(topic: string, ref: string, diff: PresenceDiff): void {
    const entries = this.#topics.get(topic);
    const entry = entries?.get(ref);
    if (!entries || !entry) return;
    entries.delete(ref);
    if (entries.size === 0) this.#topics.delete(topic);
    add(diff.leaves, entry.key, entry.meta);
  }
}
