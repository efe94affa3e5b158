/**
 * Builds the ChangeData one role receives for a change, as Supabase's Realtime does: only the
 * columns the role may SELECT; `old_record` holds what the WAL has (the primary key, or the whole
 * old row under REPLICA IDENTITY FULL); a DELETE from a table with row-level security carries only
 * the primary key, since the deleted row can no longer be checked against the policies. Pure.
 */
import type { ChangeData } from './contract.js';
import type { TableInfo } from './catalog.js';
import { textToJson } from './values.js';
import type { WalChange, WalTuple } from './wire.js';

/** Supabase's limit on a record; over it, long values are dropped and the message says so. */
export const MAX_RECORD_BYTES = 1024 * 1024;
const KEPT_WHEN_TOO_LARGE = 64;

export const ERROR_NO_PRIMARY_KEY = 'Error 400: Bad Request, no primary key';
export const ERROR_TOO_LARGE = 'Error 413: Payload Too Large';

export function buildChangeData(
  change: WalChange,
  commitTimestamp: string,
  table: TableInfo,
  role: string,
): ChangeData {
  const selectable = (name: string) => table.byName.get(name)?.selectableBy.has(role) ?? false;
  const isKey = (name: string) => table.byName.get(name)?.isKey ?? false;
  const columns = change.columns
    .filter((c) => selectable(c.name))
    .map((c) => ({ name: c.name, type: table.byName.get(c.name)?.type ?? '' }));
  const typeOf = new Map(change.columns.map((c) => [c.name, c.typeOid]));
  const base = {
    schema: change.schema,
    table: change.table,
    commit_timestamp: commitTimestamp,
    type: change.type,
    columns,
  };

  if (change.type !== 'DELETE' && !table.hasPrimaryKey) {
    return { ...base, record: {}, old_record: {}, errors: [ERROR_NO_PRIMARY_KEY] };
  }
  const errors: string[] = [];
  const convert = (tuple: WalTuple | undefined, keep: (name: string) => boolean): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    if (!tuple) return out;
    for (const [name, text] of Object.entries(tuple)) {
      if (!selectable(name) || !keep(name)) continue;
      out[name] = text === null ? null : textToJson(typeOf.get(name) ?? 25, text);
    }
    return out;
  };
  let record: Record<string, unknown> = {};
  let oldRecord: Record<string, unknown> = {};
  if (change.type === 'INSERT') {
    record = convert(change.new, () => true);
  } else if (change.type === 'UPDATE') {
    // An unchanged TOASTed value is not in the WAL; with the whole old row at hand, take it from there.
    const merged = change.oldKind === 'full' ? { ...change.old, ...change.new } : change.new;
    record = convert(merged, () => true);
    oldRecord = change.old ? convert(change.old, () => true) : convert(change.new, isKey);
  } else {
    oldRecord = convert(change.old, (name) => !table.rls || isKey(name));
  }
  const size = (r: Record<string, unknown>) => JSON.stringify(r).length;
  if (size(record) + size(oldRecord) > MAX_RECORD_BYTES) {
    const trim = (r: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(r).filter(([, v]) => JSON.stringify(v).length <= KEPT_WHEN_TOO_LARGE));
    record = trim(record);
    oldRecord = trim(oldRecord);
    errors.push(ERROR_TOO_LARGE);
  }
  return { ...base, record, old_record: oldRecord, errors: errors.length > 0 ? errors : null };
}

/** The row's values as text, for filters: the new row, or for a DELETE the old one. */
export function filterValues(change: WalChange): WalTuple {
  if (change.type === 'DELETE') return change.old ?? {};
  return change.oldKind === 'full' ? { ...change.old, ...change.new } : (change.new ?? {});
}

/** The primary key's values as text (what the visibility lookup matches on). */
export function primaryKeyOf(change: WalChange, table: TableInfo): Record<string, string | null> {
  const source = change.type === 'DELETE' ? (change.old ?? {}) : (change.new ?? {});
  const key: Record<string, string | null> = {};
  for (const column of table.columns) if (column.isKey) key[column.name] = source[column.name] ?? null;
  return key;
}
