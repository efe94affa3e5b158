/**
 * Turns the pgoutput message stream into committed transactions: remembers each relation's shape
 * (sent before its first change and again after it changes), collects a transaction's row changes
 * and hands them out at Commit. Pure and synchronous.
 */
import type { PgOutputMessage, RelationColumn, TupleValue } from './pgoutput.js';
import type { WalBatch, WalChange, WalColumn, WalTuple } from './wire.js';

interface Relation {
  readonly schema: string;
  readonly table: string;
  readonly columns: readonly RelationColumn[];
  readonly wire: readonly WalColumn[];
}

export interface Committed {
  readonly batch: WalBatch;
  /** The transaction's commit record: what the consumer's high-water mark compares (position.ts). */
  readonly commitLsn: bigint;
  /** Confirm this LSN to the slot once the batch is published. */
  readonly endLsn: bigint;
  /**
   * Tables (`schema.table`) the transaction truncated: no rows for realtime (Supabase's Realtime
   * sends none), but a cache of them must forget.
   */
  readonly truncated: readonly string[];
}

/** Transactions larger than this go out in several bus messages with the same commit time. */
export const MAX_CHANGES_PER_MESSAGE = 500;

export class TransactionAssembler {
  private readonly relations = new Map<number, Relation>();
  private open: { commitTimestamp: string; xid: number; changes: WalChange[]; truncated: Set<string> } | undefined;

  constructor(private readonly onRelation: (schema: string, table: string) => void = () => undefined) {}

  inTransaction(): boolean {
    return this.open !== undefined;
  }

  /** Feeds one message; returns the transaction's batches at its Commit, otherwise nothing. */
  push(message: PgOutputMessage): Committed[] | undefined {
    switch (message.tag) {
      case 'begin':
        this.open = {
          commitTimestamp: message.commitTime.toISOString(),
          xid: message.xid >>> 0,
          changes: [],
          truncated: new Set(),
        };
        return undefined;
      case 'relation':
        this.relations.set(message.relationId, {
          schema: message.schema,
          table: message.table,
          columns: message.columns,
          wire: message.columns.map((c) => ({ name: c.name, typeOid: c.typeOid, isKey: c.isKey })),
        });
        this.onRelation(message.schema, message.table);
        return undefined;
      case 'insert':
        this.add(message.relationId, (rel) => ({ ...base(rel, 'INSERT'), new: toTuple(rel, message.newTuple) }));
        return undefined;
      case 'update':
        this.add(message.relationId, (rel) => ({
          ...base(rel, 'UPDATE'),
          new: toTuple(rel, message.newTuple),
          ...(message.oldTuple && {
            old: toTuple(rel, message.oldTuple, message.oldKind === 'key'),
            oldKind: message.oldKind,
          }),
        }));
        return undefined;
      case 'delete':
        this.add(message.relationId, (rel) => ({
          ...base(rel, 'DELETE'),
          old: toTuple(rel, message.oldTuple, message.oldKind === 'key'),
          oldKind: message.oldKind,
        }));
        return undefined;
      case 'commit': {
        const open = this.open;
        this.open = undefined;
        if (!open) return [];
        const out: Committed[] = [];
        const truncated = [...open.truncated];
        for (let i = 0; i < open.changes.length; i += MAX_CHANGES_PER_MESSAGE) {
          out.push({
            batch: {
              commitTimestamp: open.commitTimestamp,
              xid: open.xid,
              changes: open.changes.slice(i, i + MAX_CHANGES_PER_MESSAGE),
            },
            commitLsn: message.commitLsn,
            endLsn: message.endLsn,
            truncated,
          });
        }
        // An empty transaction still moves the slot forward.
        if (out.length === 0)
          out.push({
            batch: { commitTimestamp: open.commitTimestamp, xid: open.xid, changes: [] },
            commitLsn: message.commitLsn,
            endLsn: message.endLsn,
            truncated,
          });
        return out;
      }
      // TRUNCATE has no rows to send (Supabase's Realtime sends none either): only its tables are noted.
      case 'truncate':
        for (const id of message.relationIds) {
          const rel = this.relations.get(id);
          if (rel && this.open) this.open.truncated.add(`${rel.schema}.${rel.table}`);
        }
        return undefined;
      case 'other':
        return undefined;
    }
  }

  private add(relationId: number, make: (rel: Relation) => WalChange) {
    const rel = this.relations.get(relationId);
    // pgoutput always sends a Relation before a relation's first change on a stream.
    if (!rel || !this.open) return;
    this.open.changes.push(make(rel));
  }
}

function base(rel: Relation, type: WalChange['type']) {
  return { schema: rel.schema, table: rel.table, type, columns: rel.wire };
}

/** With `keyOnly`, non-key columns (sent as nulls in a 'K' tuple) are left out. */
function toTuple(rel: Relation, values: readonly TupleValue[], keyOnly = false): WalTuple {
  const tuple: Record<string, string | null> = {};
  rel.columns.forEach((column, i) => {
    const value = values[i];
    if (!value || value.kind === 'unchanged' || (keyOnly && !column.isKey)) return;
    tuple[column.name] = value.kind === 'null' ? null : value.text;
  });
  return tuple;
}
