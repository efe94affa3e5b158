/**
 * The ResponseStore seam: where cached HTTP answers are kept, in this process or in Redis.
 *
 * Forgetting is by generation, not by deleting keys: every table has a counter, each entry keeps
 * the counters of the tables it was read from as they stood *before* its query ran, and a lookup
 * answers an entry only while those counters are unchanged. A fill that raced a change (its query
 * read the old rows, the change's invalidation arrived before the fill was stored) is thus never
 * served, and one invalidation forgets every entry of a table without knowing their keys.
 */

export interface CachedResponse {
  readonly status: number;
  /** Lower-case names. */
  readonly headers: readonly (readonly [string, string])[];
  /** Null for HEAD. */
  readonly body: string | null;
  readonly etag: string | undefined;
}

/** The counters of a lookup's tables, in the order the tables were given; opaque to callers. */
export type Generations = readonly string[];

export interface Lookup {
  readonly hit: CachedResponse | undefined;
  /** The current counters: what a fill after this miss must be stored with. */
  readonly generations: Generations;
}

export interface ResponseStore {
  /**
   * `tables`: the counters the answer depends on: one per table it was read from, and one the
   * caller bumps to forget everything (names are the caller's, who scopes them per project).
   */
  lookup(key: string, tables: readonly string[]): Promise<Lookup>;
  store(
    key: string,
    tables: readonly string[],
    generations: Generations,
    entry: CachedResponse,
    ttlMs: number,
  ): Promise<void>;
  /** Forgets every entry that depends on any of `tables`. */
  invalidate(tables: readonly string[]): Promise<void>;
  /** False while a shared store (Redis) is unreachable: then nothing is cached or answered from it. */
  isHealthy(): boolean;
  close(): Promise<void>;
}

export const sameGenerations = (a: Generations, b: Generations): boolean =>
  a.length === b.length && a.every((g, i) => g === b[i]);
