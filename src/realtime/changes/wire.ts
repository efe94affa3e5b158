/**
 * What the WAL consumer publishes on the bus: committed changes with their values as PostgreSQL's
 * text output and the columns' type OIDs. Every instance's hub turns them into ChangeData for its
 * own subscribers (authorisation and the per-role column list happen there, not here).
 */
import type { TableChanges } from '../../platform/table-changes.js';
import type { ChangeEvent } from './contract.js';

export const CHANGES_TOPIC = 'realtime:changes';

export interface WalColumn {
  readonly name: string;
  readonly typeOid: number;
  readonly isKey: boolean;
}

/** Column -> text value (null for SQL NULL). A column that is absent was not in the WAL (unchanged TOAST). */
export type WalTuple = Readonly<Record<string, string | null>>;

export interface WalChange {
  readonly schema: string;
  readonly table: string;
  readonly type: ChangeEvent;
  readonly columns: readonly WalColumn[];
  /** INSERT and UPDATE: the new row. */
  readonly new?: WalTuple;
  /** UPDATE and DELETE: the old key ('key') or the whole old row ('full', replica identity full), when the WAL has it. */
  readonly old?: WalTuple;
  readonly oldKind?: 'key' | 'full';
}

export interface WalBatch {
  /** The commit's time, ISO 8601 in UTC with milliseconds, as Supabase sends `commit_timestamp`. */
  readonly commitTimestamp: string;
  /** The transaction's id (32-bit, from the WAL): authorisation waits until it is visible. */
  readonly xid: number;
  readonly changes: readonly WalChange[];
}

export function encodeBatch(batch: WalBatch): string {
  return JSON.stringify(batch);
}

export function decodeBatch(message: Uint8Array | string): WalBatch | undefined {
  try {
    const value = JSON.parse(typeof message === 'string' ? message : Buffer.from(message).toString('utf8')) as WalBatch;
    return typeof value.commitTimestamp === 'string' && Array.isArray(value.changes) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The tables a transaction (its bus messages) changed, for what caches their reads (platform/table-changes.ts). */
export function tableChangesOf(parts: readonly WalBatch[], truncated: readonly string[] = []): TableChanges {
  const tables = new Set([...parts.flatMap((b) => b.changes.map((c) => `${c.schema}.${c.table}`)), ...truncated]);
  return { commitTimestamp: parts[0]?.commitTimestamp ?? new Date().toISOString(), tables: [...tables] };
}
