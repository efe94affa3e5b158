/**
 * What two copies of a database are compared by (a move, a restored backup): per table, the row
 * count and an order-independent checksum of the rows' text. Order-independent, so neither side
 * sorts: the checksum is the sum of the first 60 bits of each row's md5, which any PostgreSQL
 * computes in one sequential scan.
 */
import type pg from 'pg';
import { ident } from './sql.js';

export interface TableRef {
  readonly schema: string;
  readonly table: string;
}

export interface TableDigest extends TableRef {
  readonly rows: number;
  readonly checksum: string;
}

export interface DigestDifference {
  /** schema.table */
  readonly table: string;
  readonly left?: TableDigest;
  readonly right?: TableDigest;
}

const SYSTEM_SCHEMAS = ['pg_catalog', 'information_schema', 'pg_toast'];

/** Ordinary tables and leaf partitions of the given schemas, or of every non-system schema. */
export async function listTables(client: pg.ClientBase, schemas?: readonly string[]): Promise<TableRef[]> {
  const { rows } = await client.query<{ schema: string; table: string }>(
    `select n.nspname as schema, c.relname as table
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r'
        and case when $1::text[] is null
                 then n.nspname <> all($2::text[]) and n.nspname not like 'pg\\_temp\\_%' and n.nspname not like 'pg\\_toast\\_temp\\_%'
                 else n.nspname = any($1::text[]) end
      order by 1, 2`,
    [schemas ?? null, SYSTEM_SCHEMAS],
  );
  return rows;
}

/**
 * Digests in the client's current snapshot: call inside a REPEATABLE READ transaction for a set
 * that agrees with itself. The output settings rows are printed with are fixed for the call, so
 * two servers of different versions or settings print the same rows the same way.
 */
export async function digestTables(client: pg.ClientBase, tables: readonly TableRef[]): Promise<TableDigest[]> {
  // Inside the caller's transaction a savepoint scopes the settings (rolled back to, they revert);
  // outside one, SAVEPOINT fails with 25P01 and the digests get a snapshot of their own.
  const nested = await client.query('savepoint trellis_digest').then(
    () => true,
    (err: { code?: string }) => {
      if (err.code === '25P01') return false;
      throw err;
    },
  );
  if (!nested) await client.query('begin isolation level repeatable read read only');
  try {
    await client.query(
      `select set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, YMD', true),
              set_config('IntervalStyle', 'postgres', true), set_config('extra_float_digits', '1', true),
              set_config('bytea_output', 'hex', true)`,
    );
    const digests: TableDigest[] = [];
    for (const t of tables) {
      const { rows } = await client.query<{ rows: string; checksum: string }>(
        `select count(*)::text as rows,
                coalesce(sum(('x' || substr(md5((r.*)::text), 1, 15))::bit(60)::bigint), 0)::text as checksum
           from ${ident(t.schema)}.${ident(t.table)} r`,
      );
      const row = rows[0] ?? { rows: '0', checksum: '0' };
      digests.push({ schema: t.schema, table: t.table, rows: Number(row.rows), checksum: row.checksum });
    }
    return digests;
  } finally {
    if (nested) await client.query('rollback to savepoint trellis_digest; release savepoint trellis_digest');
    else await client.query('rollback');
  }
}

/** The tables whose digests differ, or that one side lacks; empty when the two agree. */
export function compareDigests(left: readonly TableDigest[], right: readonly TableDigest[]): DigestDifference[] {
  const key = (d: TableRef) => `${d.schema}.${d.table}`;
  const rightByKey = new Map(right.map((d) => [key(d), d]));
  const differences: DigestDifference[] = [];
  for (const l of left) {
    const r = rightByKey.get(key(l));
    rightByKey.delete(key(l));
    if (!r || r.rows !== l.rows || r.checksum !== l.checksum) differences.push({ table: key(l), left: l, right: r });
  }
  for (const [name, r] of rightByKey) differences.push({ table: name, right: r });
  return differences;
}
