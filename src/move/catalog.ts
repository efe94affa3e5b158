/** What a move reads from either server's catalog: columns, foreign keys, sequences, triggers. */
import type pg from 'pg';
import { ident, type TableRef } from '../db/index.js';
import type { ColumnName, ForeignKeyEdge } from './plan.js';

export interface TableColumn extends ColumnName {
  /** A stored generated column: computed by the target, never copied. */
  readonly generated: boolean;
}

const USER_RELATIONS = `n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
        and n.nspname not like 'pg\\_temp\\_%' and n.nspname not like 'pg\\_toast\\_temp\\_%'`;

/** Columns of every ordinary table and leaf partition outside PostgreSQL's own schemas, in order. */
export async function tableColumns(client: pg.ClientBase): Promise<TableColumn[]> {
  const { rows } = await client.query<{ schema: string; table: string; column: string; generated: boolean }>(
    `select n.nspname as schema, c.relname as table, a.attname as column, a.attgenerated <> '' as generated
       from pg_attribute a
       join pg_class c on c.oid = a.attrelid
       join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r' and a.attnum > 0 and not a.attisdropped and ${USER_RELATIONS}
      order by 1, 2, a.attnum`,
  );
  return rows;
}

/** Foreign keys between ordinary tables (a key on a partitioned table appears on each partition). */
export async function foreignKeyEdges(client: pg.ClientBase): Promise<ForeignKeyEdge[]> {
  const { rows } = await client.query<{ fs: string; ft: string; ts: string; tt: string }>(
    `select fn.nspname as fs, fc.relname as ft, tn.nspname as ts, tc.relname as tt
       from pg_constraint k
       join pg_class fc on fc.oid = k.conrelid join pg_namespace fn on fn.oid = fc.relnamespace
       join pg_class tc on tc.oid = k.confrelid join pg_namespace tn on tn.oid = tc.relnamespace
      where k.contype = 'f'`,
  );
  return rows.map((r) => ({ from: { schema: r.fs, table: r.ft }, to: { schema: r.ts, table: r.tt } }));
}

export interface SequenceValue {
  readonly schema: string;
  readonly name: string;
  /** null when the sequence was never used (nextval would give its start). */
  readonly lastValue: string | null;
}

/** Sequences outside PostgreSQL's own schemas (identity and serial columns' included). */
export async function sequenceValues(client: pg.ClientBase): Promise<SequenceValue[]> {
  const { rows } = await client.query<SequenceValue>(
    `select schemaname as schema, sequencename as name, last_value::text as "lastValue"
       from pg_sequences
      where schemaname not in ('pg_catalog', 'information_schema') order by 1, 2`,
  );
  return rows;
}

/**
 * Sets the target's sequences to the source's, so the next insert takes the next number and not
 * one a copied row already holds. A sequence the target lacks is skipped (its table was checked).
 */
export async function applySequenceValues(client: pg.ClientBase, values: readonly SequenceValue[]): Promise<number> {
  let set = 0;
  for (const s of values) {
    const name = `${ident(s.schema)}.${ident(s.name)}`;
    const exists = (await client.query<{ r: string | null }>('select to_regclass($1)::text as r', [name])).rows[0]?.r;
    if (!exists) continue;
    if (s.lastValue === null) {
      // Never used on the source: the target's must also hand out its start value next.
      await client.query(
        `select setval($1::regclass, s.start_value, false) from pg_sequences s
          where s.schemaname = $2 and s.sequencename = $3`,
        [name, s.schema, s.name],
      );
    } else {
      await client.query('select setval($1::regclass, $2::bigint, true)', [name, s.lastValue]);
    }
    set++;
  }
  return set;
}

/** Tables among `tables` with triggers of their own (not the ones constraints make). */
export async function tablesWithUserTriggers(client: pg.ClientBase, tables: readonly TableRef[]): Promise<TableRef[]> {
  const { rows } = await client.query<{ schema: string; table: string }>(
    `select distinct n.nspname as schema, c.relname as table
       from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
      where not t.tgisinternal`,
  );
  const wanted = new Set(tables.map((t) => `${t.schema}.${t.table}`));
  return rows.filter((r) => wanted.has(`${r.schema}.${r.table}`));
}

/** Tables whose UPDATE and DELETE logical replication cannot carry (no primary key, no replica identity). */
export async function tablesWithoutReplicaIdentity(
  client: pg.ClientBase,
  tables: readonly TableRef[],
): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `select n.nspname || '.' || c.relname as name
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r' and (c.relreplident = 'n'
         or (c.relreplident = 'd' and not exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary)))`,
  );
  const wanted = new Set(tables.map((t) => `${t.schema}.${t.table}`));
  return rows.map((r) => r.name).filter((n) => wanted.has(n));
}

/**
 * Materialized views the source has populated: the target's were made by the migrations over empty
 * tables, so they are refreshed once the rows are in (in creation order, so one built on another
 * comes after it).
 */
export async function populatedMaterializedViews(client: pg.ClientBase): Promise<TableRef[]> {
  const { rows } = await client.query<TableRef>(
    `select n.nspname as schema, c.relname as table from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'm' and c.relispopulated and ${USER_RELATIONS} order by c.oid`,
  );
  return rows;
}
