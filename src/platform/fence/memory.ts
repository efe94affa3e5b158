/** Fences of one process: a bounded map, the oldest caller forgotten first. */
import type { Lsn } from '../../db/index.js';
import type { FenceStore } from './store.js';

export function createMemoryFenceStore(
  maxCallers = 100_000,
): FenceStore & { noteNow(caller: string, lsn: Lsn, ttlMs: number): void; getNow(caller: string): Lsn | undefined } {
  const last = new Map<string, { lsn: Lsn; until: number }>();
  const noteNow = (caller: string, lsn: Lsn, ttlMs: number) => {
    const noted = last.get(caller);
    last.delete(caller);
    const kept = noted && noted.until > Date.now() && noted.lsn > lsn ? noted.lsn : lsn;
    last.set(caller, { lsn: kept, until: Date.now() + ttlMs });
    if (last.size > maxCallers) last.delete(last.keys().next().value as string);
  };
  const getNow = (caller: string) => {
    const noted = last.get(caller);
    if (noted && noted.until > Date.now()) return noted.lsn;
    if (noted) last.delete(caller);
    return undefined;
  };
  return {
    noteNow,
    getNow,
    note: (caller, lsn, ttlMs) => Promise.resolve(noteNow(caller, lsn, ttlMs)),
    get: (caller) => Promise.resolve(getNow(caller)),
    close: () => Promise.resolve(),
  };
}
