/**
 * This instance's postgres_changes subscribers, indexed by table, and the grouping a change is
 * authorised by: candidates for a change, then their distinct filter conditions and their
 * distinct claim sets. Pure bookkeeping; no I/O.
 */
import type { ChangeEvent, ChangeSubscriber } from './contract.js';
import type { FilterCondition } from './filter.js';

export interface LocalSubscription {
  readonly id: number;
  readonly event: ChangeEvent | '*';
  readonly schema: string;
  /** Undefined: every published table of `schema` ('*': of every schema). */
  readonly table: string | undefined;
  readonly conditions: readonly FilterCondition[];
}

export interface Entry {
  readonly subscriber: ChangeSubscriber;
  readonly subscriptions: readonly LocalSubscription[];
}

export interface Candidate {
  readonly entry: Entry;
  readonly subscriptions: readonly LocalSubscription[];
}

export class SubscriberRegistry {
  private readonly byTable = new Map<string, Set<Entry>>();
  private readonly wildcard = new Set<Entry>();
  private readonly entries = new Set<Entry>();

  add(entry: Entry): () => void {
    const keys = new Set<string>();
    let wild = false;
    for (const s of entry.subscriptions) {
      if (s.table === undefined) wild = true;
      else keys.add(`${s.schema}.${s.table}`);
    }
    for (const key of keys) {
      let set = this.byTable.get(key);
      if (!set) this.byTable.set(key, (set = new Set()));
      set.add(entry);
    }
    if (wild) this.wildcard.add(entry);
    this.entries.add(entry);
    return () => {
      if (!this.entries.delete(entry)) return;
      for (const key of keys) {
        const set = this.byTable.get(key);
        set?.delete(entry);
        if (set?.size === 0) this.byTable.delete(key);
      }
      this.wildcard.delete(entry);
    };
  }

  size(): number {
    return this.entries.size;
  }

  /** Still subscribed (a change authorised before an unsubscribe is not delivered after it). */
  has(entry: Entry): boolean {
    return this.entries.has(entry);
  }

  /** The subscribers with a subscription matching this table and event (filters not yet applied). */
  candidates(schema: string, table: string, event: ChangeEvent): Candidate[] {
    const out: Candidate[] = [];
    const visit = (entry: Entry) => {
      const subscriptions = entry.subscriptions.filter(
        (s) =>
          (s.event === '*' || s.event === event) &&
          (s.schema === '*' || s.schema === schema) &&
          (s.table === undefined || s.table === table),
      );
      if (subscriptions.length > 0) out.push({ entry, subscriptions });
    };
    const exact = this.byTable.get(`${schema}.${table}`);
    exact?.forEach(visit);
    for (const entry of this.wildcard) if (!exact?.has(entry)) visit(entry);
    return out;
  }
}

/** The distinct conditions among the candidates, each with a stable key. */
export function distinctConditions(candidates: readonly Candidate[]): Map<string, FilterCondition> {
  const out = new Map<string, FilterCondition>();
  for (const c of candidates)
    for (const s of c.subscriptions) for (const f of s.conditions) out.set(conditionKey(f), f);
  return out;
}

export function conditionKey(f: FilterCondition): string {
  return JSON.stringify([f.column, f.op, f.negate, f.value]);
}

export interface Group {
  readonly role: string;
  readonly claims: string;
  readonly members: { readonly entry: Entry; readonly ids: number[] }[];
}

/** Subscribers with identical claims (hence role) are authorised once, together. */
export function groupByClaims(passing: readonly { entry: Entry; ids: number[] }[]): Group[] {
  const groups = new Map<string, Group>();
  for (const p of passing) {
    const claims = claimsKey(p.entry.subscriber.claims);
    let group = groups.get(claims);
    if (!group) groups.set(claims, (group = { role: roleOf(p.entry.subscriber.claims), claims, members: [] }));
    group.members.push(p);
  }
  return [...groups.values()];
}

export function roleOf(claims: { role?: unknown }): string {
  return typeof claims.role === 'string' ? claims.role : 'anon';
}

// The same claims object (one token, many changes) serialises once.
const serialised = new WeakMap<object, string>();
function claimsKey(claims: object): string {
  let key = serialised.get(claims);
  if (key === undefined) serialised.set(claims, (key = JSON.stringify(claims)));
  return key;
}
