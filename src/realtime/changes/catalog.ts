/**
 * What the change feed needs to know about the database: whether logical decoding can run at all,
 * which tables are in the `supabase_realtime` publication, and per table its columns, primary key,
 * row-level security and which API roles may select which columns. Cached briefly (schemas change
 * rarely; a stale answer is refreshed in the background, never waited for on the hot path).
 */
import type { Db } from '../../db/index.js';

export const PUBLICATION = 'supabase_realtime';
export const API_ROLE_NAMES = ['anon', 'authenticated', 'service_role'] as const;

export interface ColumnInfo {
  readonly name: string;
  /** pg_type.typname (`int4`, `_text`, `timestamptz`): what realtime-js's `columns` carry. */
  readonly type: string;
  /** format_type() (`integer`, `character varying(20)`): for casts in SQL. */
  readonly sqlType: string;
  readonly isKey: boolean;
  /** API roles that may SELECT this column (table or column grants). */
  readonly selectableBy: ReadonlySet<string>;
}

export interface TableInfo {
  readonly oid: number;
  readonly schema: string;
  readonly table: string;
  readonly rls: boolean;
  readonly hasPrimaryKey: boolean;
  readonly columns: readonly ColumnInfo[];
  readonly byName: ReadonlyMap<string, ColumnInfo>;
  /** API roles with SELECT on the table itself. */
  readonly selectableBy: ReadonlySet<string>;
}

/** Why logical decoding cannot run on this server, or undefined when it can. */
export async function replicationProblem(db: Db): Promise<string | undefined> {
  const row = (
    await db.query<{ wal_level: string; slots: string; can: boolean }>(
      `select current_setting('wal_level') as wal_level, current_setting('max_replication_slots') as slots,
              (select rolsuper or rolreplication from pg_catalog.pg_roles where rolname = current_user) as can`,
    )
  ).rows[0];
  if (!row) return 'cannot read the server settings';
  if (row.wal_level !== 'logical') {
    return `postgres_changes needs wal_level=logical, and this PostgreSQL runs with wal_level=${row.wal_level} (run ALTER SYSTEM SET wal_level = logical and restart PostgreSQL; the embedded database is set up so)`;
  }
  if (Number(row.slots) < 1) return 'postgres_changes needs a replication slot, and max_replication_slots is 0';
  if (!row.can)
    return 'postgres_changes needs the database user to have the REPLICATION attribute (ALTER ROLE ... REPLICATION)';
  return undefined;
}

export class Catalog {
  private published: { at: number; value: Promise<ReadonlySet<string>> } | undefined;
  private readonly tables = new Map<string, { at: number; value: Promise<TableInfo | undefined> }>();

  constructor(
    private readonly db: Db,
    private readonly ttlMs = 5000,
  ) {}

  /** `schema.table` of every table in the publication. */
  publishedTables(fresh = false): Promise<ReadonlySet<string>> {
    const now = Date.now();
    if (!this.published || fresh || now - this.published.at > this.ttlMs) {
      const value = this.db
        .query<{ schemaname: string; tablename: string }>(
          'select schemaname, tablename from pg_catalog.pg_publication_tables where pubname = $1',
          [PUBLICATION],
        )
        .then((r) => new Set(r.rows.map((t) => `${t.schemaname}.${t.tablename}`)) as ReadonlySet<string>);
      const previous = this.published;
      this.published = { at: now, value };
      // Stale-while-refresh: the hot path keeps the previous answer until the new one is in.
      if (previous && !fresh) {
        value.catch(() => (this.published = previous));
        return previous.value;
      }
    }
    return this.published.value;
  }

  table(schema: string, table: string, fresh = false): Promise<TableInfo | undefined> {
    const key = `${schema}.${table}`;
    const now = Date.now();
    const cached = this.tables.get(key);
    if (cached && !fresh && now - cached.at <= this.ttlMs) return cached.value;
    const value = loadTable(this.db, schema, table);
    this.tables.set(key, { at: now, value });
    value.catch(() => this.tables.delete(key));
    return cached && !fresh ? cached.value : value;
  }

  /**
   * Whether the publication holds partitions of this partitioned table but sends their changes as
   * the partitions (publish_via_partition_root is off, e.g. the publication was made again by a
   * project migration): the table itself is then not among the published ones. Asked only when a
   * subscription is refused, to say why.
   */
  async publishesPartitionsOf(schema: string, table: string): Promise<boolean> {
    const row = (
      await this.db.query<{ yes: boolean }>(
        `select exists (
           select 1 from pg_catalog.pg_publication_tables pt
             join pg_catalog.pg_namespace n on n.nspname = pt.schemaname
             join pg_catalog.pg_class c on c.relnamespace = n.oid and c.relname = pt.tablename
            where pt.pubname = $1 and c.relispartition
              and pg_catalog.pg_partition_root(c.oid) = (
                select p.oid from pg_catalog.pg_class p join pg_catalog.pg_namespace pn on pn.oid = p.relnamespace
                 where pn.nspname = $2 and p.relname = $3 and p.relkind = 'p')) as yes`,
        [PUBLICATION, schema, table],
      )
    ).rows[0];
    return row?.yes === true;
  }

  /** After a Relation message (a table's shape changed): read it afresh next time. */
  forget(schema: string, table: string): void {
    this.tables.delete(`${schema}.${table}`);
  }
}

async function loadTable(db: Db, schema: string, table: string): Promise<TableInfo | undefined> {
  const rel = (
    await db.query<{ oid: number; rls: boolean; roles: string[] }>(
      `select c.oid::int as oid, c.relrowsecurity as rls,
              array(select r from unnest($3::text[]) r where pg_catalog.has_table_privilege(r, c.oid, 'SELECT')) as roles
         from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where n.nspname = $1 and c.relname = $2 and c.relkind in ('r', 'p')`,
      [schema, table, API_ROLE_NAMES],
    )
  ).rows[0];
  if (!rel) return undefined;
  const cols = (
    await db.query<{ name: string; type: string; sql_type: string; is_key: boolean; roles: string[] }>(
      `select a.attname as name, t.typname as type, pg_catalog.format_type(a.atttypid, a.atttypmod) as sql_type,
              coalesce(a.attnum = any (i.indkey), false) as is_key,
              array(select r from unnest($2::text[]) r where pg_catalog.has_column_privilege(r, a.attrelid, a.attnum, 'SELECT')) as roles
         from pg_catalog.pg_attribute a
         join pg_catalog.pg_type t on t.oid = a.atttypid
         left join pg_catalog.pg_index i on i.indrelid = a.attrelid and i.indisprimary
        where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped
        order by a.attnum`,
      [rel.oid, API_ROLE_NAMES],
    )
  ).rows;
  const columns = cols.map((c) => ({
    name: c.name,
    type: c.type,
    sqlType: c.sql_type,
    isKey: c.is_key,
    selectableBy: new Set(c.roles),
  }));
  return {
    oid: rel.oid,
    schema,
    table,
    rls: rel.rls,
    hasPrimaryKey: columns.some((c) => c.isKey),
    columns,
    byName: new Map(columns.map((c) => [c.name, c])),
    selectableBy: new Set(rel.roles),
  };
}
