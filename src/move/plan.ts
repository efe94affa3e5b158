/**
 * The pure half of a move: what the flags mean, in which order tables load, which source columns
 * the target lacks. Nothing here touches a server.
 */
import { FatalError } from '../errors.js';

export interface TableName {
  readonly schema: string;
  readonly table: string;
}

/** `schema.table`, as the move prints it. */
export const tableLabel = (t: TableName): string => `${t.schema}.${t.table}`;

/** A postgres:// URL as given on the command line; anything else is refused before connecting. */
export function parseServerUrl(text: string, flag: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new FatalError(`must be a postgres://user@host:port/database URL (got "${text}")`, flag);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new FatalError(`must be a postgres:// or postgresql:// URL (got "${url.protocol}//…")`, flag);
  if (!url.hostname) throw new FatalError('the URL names no host', flag);
  if (url.pathname.length <= 1) throw new FatalError('the URL names no database (…/dbname)', flag);
  return text;
}

export interface S3Target {
  readonly bucket: string;
}

/**
 * `--storage-to s3://bucket`. Trellis's S3 store keeps every object under `<bucket id>/<name>/…`
 * at the root of one S3 bucket (STORAGE_S3_BUCKET): a key prefix would not be found by the
 * server afterwards, so one is refused rather than silently dropped.
 */
export function parseS3Target(text: string): S3Target {
  const match = /^s3:\/\/([^/?#]+)\/?$/.exec(text);
  if (!match?.[1]) {
    if (/^s3:\/\/[^/]+\/./.test(text))
      throw new FatalError(
        `Trellis's S3 store keeps objects at the root of its bucket; give s3://<bucket> without a prefix (got "${text}")`,
        '--storage-to',
      );
    throw new FatalError(`must be s3://<bucket> (got "${text}")`, '--storage-to');
  }
  const bucket = match[1];
  // S3's bucket naming rules (3–63 lower-case letters, digits, dots, hyphens).
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    throw new FatalError(`"${bucket}" is not a valid S3 bucket name`, '--storage-to');
  return { bucket };
}

export interface ForeignKeyEdge {
  /** The referencing table. */
  readonly from: TableName;
  /** The referenced table. */
  readonly to: TableName;
}

/**
 * Parents before children, so each COPY's foreign keys find their rows (constraints are checked at
 * the end of each statement, so a table that references itself loads in one go). Returns the order,
 * or the tables caught in a cycle of foreign keys.
 */
export function orderTables<T extends TableName>(
  tables: readonly T[],
  edges: readonly ForeignKeyEdge[],
): { order: T[] } | { cycle: T[] } {
  const byLabel = new Map(tables.map((t) => [tableLabel(t), t]));
  const parents = new Map<string, Set<string>>(tables.map((t) => [tableLabel(t), new Set()]));
  for (const edge of edges) {
    const from = tableLabel(edge.from);
    const to = tableLabel(edge.to);
    if (from === to || !byLabel.has(to)) continue;
    parents.get(from)?.add(to);
  }
  const order: T[] = [];
  const placed = new Set<string>();
  // Kahn's algorithm, keeping the listing order among tables that are ready together.
  for (let progress = true; progress;) {
    progress = false;
    for (const [label, table] of byLabel) {
      if (placed.has(label)) continue;
      if ([...(parents.get(label) ?? [])].every((p) => placed.has(p))) {
        placed.add(label);
        order.push(table);
        progress = true;
      }
    }
  }
  if (order.length === tables.length) return { order };
  return { cycle: tables.filter((t) => !placed.has(tableLabel(t))) };
}

export interface ColumnName extends TableName {
  readonly column: string;
}

/** What the source has and the target lacks: whole tables, and columns of tables both have. */
export function missingOnTarget(
  source: readonly ColumnName[],
  target: readonly ColumnName[],
): { tables: string[]; columns: string[] } {
  const targetTables = new Set(target.map(tableLabel));
  const targetColumns = new Set(target.map((c) => `${tableLabel(c)}.${c.column}`));
  const tables = new Set<string>();
  const columns: string[] = [];
  for (const c of source) {
    const table = tableLabel(c);
    if (!targetTables.has(table)) tables.add(table);
    else if (!targetColumns.has(`${table}.${c.column}`)) columns.push(`${table}.${c.column}`);
  }
  return { tables: [...tables].sort(), columns: columns.sort() };
}

/** A list for one line of an error: the first few names and how many more. */
export function listSome(names: readonly string[], max = 8): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}
