/**
 * The v2 list query (POST /object/list-v2/<bucket>), storage-js's `listV2`: objects whose names
 * start with a prefix, in pages of `limit`, sorted by name or a timestamp, with an opaque cursor to
 * the next page. With `with_delimiter` the objects one level below the prefix come back as objects
 * and the deeper ones as folders (their common prefix up to the next "/"), as storage-api lists them.
 * It runs as the caller, so RLS hides the objects they may not see.
 */
import { StorageErrors } from './errors.js';
import type { SqlPlan } from './list.js';

const SORT_COLUMNS = new Set(['name', 'updated_at', 'created_at']);
const MAX_KEYS = 1000;

export interface ListV2Options {
  readonly prefix: string;
  readonly limit: number;
  readonly delimited: boolean;
  readonly column: 'name' | 'updated_at' | 'created_at';
  readonly order: 'asc' | 'desc';
  /** From the cursor: the last entry of the page before. */
  readonly after?: { readonly name: string; readonly at?: string };
}

/** One entry as the query returns it; a folder has a null id. */
export interface ListV2Row {
  readonly name: string;
  readonly id: string | null;
  readonly updated_at: string | null;
  readonly created_at: string | null;
  readonly last_accessed_at: string | null;
  readonly metadata: unknown;
}

export function listV2Options(body: Record<string, unknown>): ListV2Options {
  const prefix = optionalString(body.prefix, 'prefix') ?? '';
  const limitRaw = body.limit ?? MAX_KEYS;
  if (typeof limitRaw !== 'number' || !Number.isInteger(limitRaw) || limitRaw < 1)
    throw StorageErrors.invalidRequest('limit must be a whole number of at least 1');
  if (body.with_delimiter !== undefined && typeof body.with_delimiter !== 'boolean')
    throw StorageErrors.invalidRequest('with_delimiter must be a boolean');
  const sortBy = (body.sortBy ?? {}) as { column?: unknown; order?: unknown };
  const column = sortBy.column ?? 'name';
  const order = sortBy.order ?? 'asc';
  if (typeof column !== 'string' || !SORT_COLUMNS.has(column))
    throw StorageErrors.invalidRequest(`sortBy.column must be one of ${[...SORT_COLUMNS].join(', ')}`);
  if (order !== 'asc' && order !== 'desc') throw StorageErrors.invalidRequest('sortBy.order must be asc or desc');
  const cursor = optionalString(body.cursor, 'cursor');
  // A cursor carries the sort it was made under: the next page goes on in the same order.
  const token = cursor ? decodeCursor(cursor) : undefined;
  return {
    prefix,
    limit: Math.min(limitRaw, MAX_KEYS),
    delimited: body.with_delimiter === true,
    column: (token?.column ?? column) as ListV2Options['column'],
    order: token?.order ?? order,
    after: token ? { name: token.name, at: token.at } : undefined,
  };
}

/** The query: one row more than the page, so the caller knows whether another page follows. */
export function planListV2(bucket: string, o: ListV2Options): SqlPlan {
  const values: unknown[] = [bucket, o.prefix, o.limit + 1];
  // Only the fixed words below reach the text; every value is a parameter.
  const cmp = o.order === 'asc' ? '>' : '<';
  let where = 'true';
  if (o.after && o.column !== 'name' && o.after.at) {
    values.push(o.after.at, o.after.name);
    where = `(date_trunc('milliseconds', ${o.column}), name collate "C") ${cmp} ($4::timestamptz, $5 collate "C")`;
  } else if (o.after) {
    values.push(o.after.name);
    where = `name collate "C" ${cmp} $4 collate "C"`;
  }
  const order =
    o.column === 'name'
      ? `name collate "C" ${o.order}`
      : `date_trunc('milliseconds', ${o.column}) ${o.order}, name collate "C" ${o.order}`;
  const matching = `select o.name, o.id, o.updated_at, o.created_at, o.last_accessed_at, o.metadata,
          strpos(substr(o.name, char_length($2) + 1), '/') as cut
        from storage.objects o where o.bucket_id = $1 and starts_with(o.name, $2)`;
  // A folder is dated by its oldest object, as storage-api dates it (both timestamps).
  const entries = o.delimited
    ? `with matching as (${matching}), entries as (
          select left(name, char_length($2) + cut) as name, null::uuid as id, min(created_at) as updated_at,
                 min(created_at) as created_at, null::timestamptz as last_accessed_at, null::jsonb as metadata
          from matching where cut > 0 group by 1
          union all
          select name, id, updated_at, created_at, last_accessed_at, metadata from matching where cut = 0)`
    : `with entries as (select name, id, updated_at, created_at, last_accessed_at, metadata from (${matching}) m)`;
  return {
    text: `${entries}
      select name, id, updated_at, created_at, last_accessed_at, metadata from entries
      where ${where} order by ${order} limit $3`,
    values,
  };
}

export interface ListV2Result {
  hasNext: boolean;
  nextCursor?: string;
  folders: Record<string, unknown>[];
  objects: Record<string, unknown>[];
}

/** The page as storage-api answers: folders and objects apart, `key` their name at this level. */
export function listV2Result(o: ListV2Options, rows: ListV2Row[]): ListV2Result {
  const hasNext = rows.length > o.limit;
  const page = hasNext ? rows.slice(0, o.limit) : rows;
  const level = o.prefix === '' ? 0 : o.prefix.split('/').length - 1;
  const folders: Record<string, unknown>[] = [];
  const objects: Record<string, unknown>[] = [];
  for (const row of page) {
    const entry: Record<string, unknown> = o.delimited ? { key: row.name.split('/')[level] ?? '', ...row } : { ...row };
    (row.id === null ? folders : objects).push(entry);
  }
  const last = page[page.length - 1];
  const result: ListV2Result = { hasNext, folders, objects };
  if (hasNext && last) result.nextCursor = encodeCursor(o, last);
  return result;
}

interface Cursor {
  name: string;
  order?: 'asc' | 'desc';
  column?: string;
  at?: string;
}

// storage-api's cursor: base64 of "l:<last name>", "o:<order>", "c:<column>", "a:<last timestamp>"
// lines, so a cursor from either server reads on the other.
const CURSOR_PARTS = { l: 'name', o: 'order', c: 'column', a: 'at' } as const;

function encodeCursor(o: ListV2Options, last: ListV2Row): string {
  const at = o.column === 'name' ? null : last[o.column];
  const lines = [`l:${last.name}`, `o:${o.order}`, `c:${o.column}`];
  if (at) lines.push(`a:${new Date(at).toISOString()}`);
  return Buffer.from(lines.join('\n')).toString('base64');
}

function decodeCursor(token: string): Cursor {
  const cursor: Cursor = { name: '' };
  for (const line of Buffer.from(token, 'base64').toString('utf8').split('\n')) {
    const match = /^([loca]):(.*)$/s.exec(line);
    if (!match) throw StorageErrors.invalidRequest('Invalid Parameter: continuation token');
    const part = CURSOR_PARTS[match[1] as keyof typeof CURSOR_PARTS];
    const value = match[2] ?? '';
    if (part === 'order' && value !== 'asc' && value !== 'desc')
      throw StorageErrors.invalidRequest('Invalid Parameter: continuation token');
    if (part === 'column' && !SORT_COLUMNS.has(value))
      throw StorageErrors.invalidRequest('Invalid Parameter: continuation token');
    if (part === 'at' && Number.isNaN(Date.parse(value)))
      throw StorageErrors.invalidRequest('Invalid Parameter: continuation token');
    if (part === 'order') cursor.order = value as 'asc' | 'desc';
    else cursor[part] = value;
  }
  return cursor;
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw StorageErrors.invalidRequest(`${name} must be a string`);
  return value;
}
