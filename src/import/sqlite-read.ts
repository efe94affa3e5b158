/**
 * Reads a SQLite database: its tables (columns, keys, indexes, foreign keys from SQLite's own
 * pragmas) and a profile of every value, in one pass per table. Nothing is written anywhere.
 */
import type Database from 'better-sqlite3';
import { FatalError, errorMessage } from '../errors.js';
import { emptyProfile, profileValue, type ColumnProfile } from './sqlite-profile.js';
import { sqliteIdent } from './sqlite-sql.js';
import type { SqliteColumn, SqliteForeignKey, SqliteIndex, SqliteSchema, SqliteTable } from './sqlite-schema.js';

/** Tables SQLite, Cloudflare D1 and wrangler keep for themselves: not the app's data. */
const INTERNAL: readonly [RegExp, string][] = [
  [/^sqlite_/i, "SQLite's own bookkeeping (PostgreSQL's identity sequences take its place)"],
  [/^_cf_/i, "Cloudflare D1's internal table"],
  [/^d1_migrations$/i, "wrangler's migration bookkeeping (Trellis keeps migrations in supabase/migrations)"],
  [/^_litestream_/i, "Litestream's bookkeeping"],
];

interface TableListRow {
  name: string;
  type: string;
  wr: number;
}
interface XInfoRow {
  name: string;
  type: string;
  notnull: number;
  dflt_value: string | null;
  pk: number;
  hidden: number;
}

export function readSqlite(db: Database.Database, onTable?: (name: string, rows: number) => void): SqliteSchema {
  try {
    return readSchema(db, onTable);
  } catch (err) {
    if (err instanceof FatalError) throw err;
    throw new FatalError(`the SQLite database cannot be read: ${errorMessage(err)} (is it truncated or corrupt?)`);
  }
}

function readSchema(db: Database.Database, onTable?: (name: string, rows: number) => void): SqliteSchema {
  const skipped: { name: string; reason: string; internal?: boolean }[] = [];
  const master = db.prepare(`select type, name, tbl_name, sql from sqlite_master`).all() as {
    type: string;
    name: string;
    tbl_name: string;
    sql: string | null;
  }[];
  for (const m of master) {
    if (m.type === 'view')
      skipped.push({ name: m.name, reason: 'a view (recreate it in a migration, in PostgreSQL SQL)' });
    if (m.type === 'trigger')
      skipped.push({ name: m.name, reason: `a trigger on "${m.tbl_name}" (rewrite it as a PostgreSQL trigger)` });
  }
  const list = (db.prepare(`pragma main.table_list`).all() as TableListRow[])
    .filter((t) => t.type !== 'view')
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const tables: SqliteTable[] = [];
  for (const entry of list) {
    // The schema table itself is listed too; it is the catalog, not a table anyone made.
    if (/^sqlite_(temp_)?(schema|master)$/i.test(entry.name)) continue;
    const internal = INTERNAL.find(([re]) => re.test(entry.name));
    if (internal) {
      skipped.push({ name: entry.name, reason: internal[1], internal: true });
      continue;
    }
    if (entry.type === 'virtual' || entry.type === 'shadow') {
      skipped.push({
        name: entry.name,
        reason: `a ${entry.type} table (full-text search and the like: use PostgreSQL's own)`,
      });
      continue;
    }
    const sql = master.find((m) => m.type === 'table' && m.name === entry.name)?.sql ?? '';
    tables.push(readTable(db, entry, sql, master, onTable));
  }
  return { tables, skipped };
}

function readTable(
  db: Database.Database,
  entry: TableListRow,
  sql: string,
  master: readonly { type: string; name: string; sql: string | null }[],
  onTable?: (name: string, rows: number) => void,
): SqliteTable {
  const q = sqliteIdent(entry.name);
  const columns: SqliteColumn[] = (db.prepare(`pragma table_xinfo(${q})`).all() as XInfoRow[])
    .filter((c) => c.hidden !== 1)
    .map((c) => ({
      name: c.name,
      declared: c.type,
      notNull: c.notnull === 1,
      defaultSql: c.dflt_value,
      pk: c.pk,
      generated: c.hidden === 2 || c.hidden === 3,
    }));
  const fkRows = db.prepare(`pragma foreign_key_list(${q})`).all() as {
    id: number;
    table: string;
    from: string;
    to: string | null;
    on_update: string;
    on_delete: string;
  }[];
  const foreignKeys: SqliteForeignKey[] = [];
  for (const id of [...new Set(fkRows.map((r) => r.id))]) {
    const rows = fkRows.filter((r) => r.id === id);
    const first = rows[0] as (typeof rows)[number];
    foreignKeys.push({
      table: first.table,
      from: rows.map((r) => r.from),
      to: rows.every((r) => r.to !== null) ? rows.map((r) => r.to as string) : [],
      onUpdate: first.on_update,
      onDelete: first.on_delete,
    });
  }
  const indexRows = db.prepare(`pragma index_list(${q})`).all() as {
    name: string;
    unique: number;
    origin: string;
    partial: number;
  }[];
  const indexes: SqliteIndex[] = indexRows.map((ix) => ({
    name: ix.name,
    unique: ix.unique === 1,
    origin: ix.origin === 'u' ? 'u' : ix.origin === 'pk' ? 'pk' : 'c',
    partial: ix.partial === 1,
    sql: master.find((m) => m.type === 'index' && m.name === ix.name)?.sql ?? null,
    columns: (
      db.prepare(`pragma index_xinfo(${sqliteIdent(ix.name)})`).all() as {
        cid: number;
        name: string | null;
        desc: number;
        coll: string;
        key: number;
      }[]
    )
      .filter((c) => c.key === 1)
      .map((c) => ({ name: c.cid < 0 ? null : c.name, desc: c.desc === 1, collation: c.coll ?? 'BINARY' })),
  }));
  const withoutRowid = entry.wr === 1;
  const hasSequence = master.some((m) => m.type === 'table' && m.name === 'sqlite_sequence');
  const seq = hasSequence
    ? (db.prepare(`select seq from sqlite_sequence where name = ?`).raw(true).safeIntegers(true).get(entry.name) as
        bigint[] | undefined)
    : undefined;
  const { rowCount, profiles } = profileTable(db, entry.name, columns, withoutRowid);
  onTable?.(entry.name, rowCount);
  return {
    name: entry.name,
    sql,
    withoutRowid,
    autoincrement: /\bautoincrement\b/i.test(sql),
    ...(typeof seq?.[0] === 'bigint' ? { sequence: seq[0] } : {}),
    columns,
    foreignKeys,
    indexes,
    rowCount,
    profiles,
  };
}

/** One scan of the table: every value into its column's profile, each sample named by rowid or key. */
function profileTable(
  db: Database.Database,
  table: string,
  columns: readonly SqliteColumn[],
  withoutRowid: boolean,
): { rowCount: number; profiles: Map<string, ColumnProfile> } {
  const pk = columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
  const keyIndexes = pk.map((c) => columns.indexOf(c));
  // The rowid alias (INTEGER PRIMARY KEY) is the rowid: SQLite guarantees its values, so it is not read twice.
  const alias =
    !withoutRowid && pk.length === 1 && pk[0]?.declared.trim().toUpperCase() === 'INTEGER'
      ? columns.indexOf(pk[0])
      : -1;
  const read = columns.map((c, i) => (i === alias ? 'null' : sqliteIdent(c.name))).join(', ');
  const from = sqliteIdent(table);
  const stmt = db
    .prepare(`select ${withoutRowid ? '' : 'rowid, '}${read} from ${from}`)
    .raw(true)
    .safeIntegers(true);
  const profiles = columns.map(() => emptyProfile());
  const offset = withoutRowid ? 0 : 1;
  let rowCount = 0;
  // One labeller for the whole scan (it names the current row only when a sample is kept).
  let current: unknown[] = [];
  const label = (): string =>
    withoutRowid
      ? pk.length > 0
        ? pk.map((c, i) => `${c.name} = ${String(current[keyIndexes[i] as number])}`).join(', ')
        : `row ${rowCount}`
      : `rowid ${String(current[0])}`;
  for (const row of stmt.iterate() as IterableIterator<unknown[]>) {
    rowCount++;
    current = row;
    for (let i = 0; i < columns.length; i++) profileValue(profiles[i] as ColumnProfile, row[i + offset], label);
  }
  if (alias >= 0 && rowCount > 0) {
    const p = profiles[alias] as ColumnProfile;
    const range = db
      .prepare(`select min(rowid), max(rowid) from ${from}`)
      .raw(true)
      .safeIntegers(true)
      .get() as bigint[];
    const sample = (where: string) => {
      const id = (
        db.prepare(`select rowid from ${from} ${where} limit 1`).raw(true).safeIntegers(true).get() as bigint[]
      )[0];
      return { row: `rowid ${String(id)}`, value: String(id) };
    };
    Object.assign(p, { nonNull: rowCount, integers: rowCount, minInteger: range[0], maxInteger: range[1] });
    p.firstInteger = sample('');
    if ((range[0] as bigint) < 0n || (range[1] as bigint) > 1n) {
      p.boolish = false;
      p.firstNotBool = sample('where rowid not in (0, 1)');
    }
  }
  return { rowCount, profiles: new Map(columns.map((c, i) => [c.name, profiles[i] as ColumnProfile])) };
}
