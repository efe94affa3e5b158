/**
 * Whether an access token's session still exists. Supabase's APIs (other than GoTrue) trust a token
 * until it expires; with AUTH_SESSION_CHECK_SECONDS set, Trellis also refuses a token whose session
 * was deleted (sign-out, a deleted or banned user). Answers are cached; deletions are announced by a
 * trigger over NOTIFY (src/sql/0050), so a revoked session stops on every instance at once, and the
 * cache lifetime bounds the delay only while the LISTEN connection is down.
 */
import type { Db } from '../db/index.js';

/** The sessions just revoked, or 'all' when they are not known (a lost notification, a bulk delete). */
export type Revoked = ReadonlySet<string> | 'all';

export interface SessionCheck {
  isLive(sessionId: string): Promise<boolean>;
  /** Calls `listener` when sessions are revoked; returns the unsubscribe. */
  onRevoked(listener: (revoked: Revoked) => void): () => void;
}

const CHANNEL = 'trellis_sessions';
const MAX_CACHED = 50_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createSessionCheck(db: Db, cacheSeconds: number): SessionCheck {
  // id -> until when "live" holds; a revoked id is never live again (session ids are not reused).
  const live = new Map<string, number>();
  const revoked = new Set<string>();
  const listeners = new Set<(revoked: Revoked) => void>();
  db.listen(CHANNEL, (payload) => {
    // '' follows every (re)connect: notifications may have been missed meanwhile.
    if (payload === '' || payload === '*') {
      live.clear();
      for (const listener of listeners) listener('all');
      return;
    }
    const ids = new Set(payload.split(','));
    for (const id of ids) {
      live.delete(id);
      if (revoked.size >= MAX_CACHED) revoked.clear();
      revoked.add(id);
    }
    for (const listener of listeners) listener(ids);
  });
  // Lookups asked for in the same tick go in one query, and an id already being looked up is not
  // asked again: after a reconnect every open channel re-checks its session at once.
  type Waiting = { resolve(live: boolean): void; reject(err: unknown): void }[];
  let batch: Map<string, Waiting> | undefined;
  const inFlight = new Map<string, Promise<boolean>>();
  const flush = async (ids: Map<string, Waiting>) => {
    try {
      const { rows } = await db.query<{ id: string }>(
        'select id::text as id from auth.sessions where id = any($1::uuid[]) and (not_after is null or not_after > now())',
        [[...ids.keys()]],
      );
      const found = new Set(rows.map((r) => r.id));
      for (const [id, waiting] of ids) {
        if (found.has(id)) {
          if (live.size >= MAX_CACHED) live.delete(live.keys().next().value as string);
          live.set(id, Date.now() + cacheSeconds * 1000);
        }
        for (const w of waiting) w.resolve(found.has(id));
      }
    } catch (err) {
      for (const waiting of ids.values()) for (const w of waiting) w.reject(err);
    }
  };
  const lookup = (id: string): Promise<boolean> => {
    const pending = inFlight.get(id);
    if (pending) return pending;
    const promise = new Promise<boolean>((resolve, reject) => {
      if (!batch) {
        const current = (batch = new Map<string, Waiting>());
        queueMicrotask(() => {
          batch = undefined;
          void flush(current);
        });
      }
      const waiting = batch.get(id) ?? [];
      waiting.push({ resolve, reject });
      batch.set(id, waiting);
    }).finally(() => inFlight.delete(id));
    inFlight.set(id, promise);
    return promise;
  };
  return {
    async isLive(sessionId) {
      if (revoked.has(sessionId)) return false;
      if ((live.get(sessionId) ?? 0) > Date.now()) return true;
      // A malformed id names no session; asking PostgreSQL would be a 22P02, not an answer.
      if (!UUID.test(sessionId)) return false;
      return lookup(sessionId);
    },
    onRevoked(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
