/** Where callers' last write positions are kept: this process, or Redis for a cluster. */
import type { Lsn } from '../../db/index.js';

export interface FenceStore {
  /** `caller`'s last write is at `lsn` or later for the next `ttlMs` (an older LSN never lowers it). */
  note(caller: string, lsn: Lsn, ttlMs: number): Promise<void>;
  /** `caller`'s last write, or undefined when none is remembered. */
  get(caller: string): Promise<Lsn | undefined>;
  close(): Promise<void>;
}
