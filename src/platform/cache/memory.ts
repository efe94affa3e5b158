/** The response store of one process: a Map in insertion order, oldest evicted first. */
import { sameGenerations, type CachedResponse, type Generations, type ResponseStore } from './response-store.js';

interface Entry {
  readonly response: CachedResponse;
  readonly generations: Generations;
  readonly expires: number;
  readonly bytes: number;
}

export function createMemoryResponseStore(options: { maxEntries: number; maxBytes: number }): ResponseStore {
  const entries = new Map<string, Entry>();
  const counters = new Map<string, number>();
  let bytes = 0;
  const current = (tables: readonly string[]) => tables.map((t) => String(counters.get(t) ?? 0));
  const remove = (key: string) => {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    bytes -= entry.bytes;
  };
  return {
    async lookup(key, tables) {
      const generations = current(tables);
      const entry = entries.get(key);
      if (!entry) return { hit: undefined, generations };
      if (entry.expires <= Date.now() || !sameGenerations(entry.generations, generations)) {
        remove(key);
        return { hit: undefined, generations };
      }
      // Least recently used goes first: a hit moves to the end of the insertion order.
      entries.delete(key);
      entries.set(key, entry);
      return { hit: entry.response, generations };
    },
    async store(key, tables, generations, response, ttlMs) {
      if (!sameGenerations(generations, current(tables))) return; // changed while it was read
      const size = (response.body?.length ?? 0) * 2 + 256;
      if (size > options.maxBytes) return;
      remove(key);
      entries.set(key, { response, generations, expires: Date.now() + ttlMs, bytes: size });
      bytes += size;
      for (const oldest of entries.keys()) {
        if (entries.size <= options.maxEntries && bytes <= options.maxBytes) break;
        remove(oldest);
      }
    },
    async invalidate(tables) {
      for (const table of tables) counters.set(table, (counters.get(table) ?? 0) + 1);
    },
    isHealthy: () => true,
    async close() {
      entries.clear();
      bytes = 0;
    },
  };
}
