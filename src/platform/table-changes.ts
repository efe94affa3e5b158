/**
 * The notice the WAL consumer publishes on the bus for every committed transaction: which tables
 * it changed and when it committed. It is the whole contract between the change feed and what
 * must forget on a change (the REST response cache), so neither imports the other; the full rows
 * travel on the realtime topic, and a cache need not parse them.
 */
export const TABLE_CHANGES_TOPIC = 'trellis:table-changes';

export interface TableChanges {
  /** The commit's time, ISO 8601 in UTC with milliseconds. */
  readonly commitTimestamp: string;
  /** `schema.table`, each once. */
  readonly tables: readonly string[];
}

export function encodeTableChanges(changes: TableChanges): string {
  return JSON.stringify(changes);
}

export function decodeTableChanges(message: Uint8Array | string): TableChanges | undefined {
  try {
    const text = typeof message === 'string' ? message : Buffer.from(message).toString('utf8');
    const value = JSON.parse(text) as Partial<TableChanges>;
    if (typeof value.commitTimestamp !== 'string' || !Array.isArray(value.tables)) return undefined;
    if (!value.tables.every((t): t is string => typeof t === 'string')) return undefined;
    return { commitTimestamp: value.commitTimestamp, tables: value.tables };
  } catch {
    return undefined;
  }
}
