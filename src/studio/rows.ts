/**
 * The table editor's statements, planned from a parsed request (pure: `{ text, values }`): a page of
 * rows with filters and a sort, and insert / update / delete of one row by its primary key. Names
 * go through `ident`, values travel as text parameters that PostgreSQL casts to the column's type.
 */
import { z } from 'zod';
import { ident } from '../db/index.js';
import { ApiError } from '../errors.js';
import { JsonNumber, stringifyJson } from '../platform/json.js';

export interface Plan {
  readonly text: string;
  readonly values: unknown[];
}

export const FILTER_OPS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'like', 'ilike', 'is_null', 'not_null'] as const;
const SQL_OPS: Record<(typeof FILTER_OPS)[number], string> = {
  eq: '=',
  neq: '<>',
  gt: '>',
  gte: '>=',
  lt: '<',
  lte: '<=',
  like: 'like',
  ilike: 'ilike',
  is_null: 'is null',
  not_null: 'is not null',
};

export const browseQuery = z.object({
  filters: z
    .array(z.object({ column: z.string().min(1), op: z.enum(FILTER_OPS), value: z.string().optional() }))
    .max(20)
    .default([]),
  sort: z.object({ column: z.string().min(1), ascending: z.boolean().default(true) }).optional(),
  limit: z.number().int().min(1).max(1000).default(100),
  offset: z.number().int().min(0).max(1_000_000_000).default(0),
});
export type BrowseQuery = z.output<typeof browseQuery>;

/** A row's value as a text parameter: JSON objects as JSON text, numbers as written. */
export function asParameter(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || value instanceof JsonNumber) return String(value);
  return stringifyJson(value);
}

const target = (schema: string, table: string) => `${ident(schema)}.${ident(table)}`;

function requireColumn(columns: readonly string[], name: string): string {
  if (!columns.includes(name)) throw new ApiError(400, 'unknown_column', `column "${name}" does not exist`);
  return ident(name);
}

/** The page and the total matching rows (a count over the same filters, in one statement). */
export function planBrowse(schema: string, table: string, columns: readonly string[], q: BrowseQuery): Plan {
  const values: unknown[] = [];
  const where = q.filters.map((f) => {
    const column = requireColumn(columns, f.column);
    if (f.op === 'is_null' || f.op === 'not_null') return `${column} ${SQL_OPS[f.op]}`;
    if (f.value === undefined)
      throw new ApiError(400, 'invalid_filter', `filter "${f.op}" on "${f.column}" needs a value`);
    values.push(f.value);
    // like/ilike compare text whatever the column's type; the others compare in the column's type.
    const left = f.op === 'like' || f.op === 'ilike' ? `${column}::text` : column;
    return `${left} ${SQL_OPS[f.op]} $${values.length}`;
  });
  const order = q.sort
    ? ` order by ${requireColumn(columns, q.sort.column)} ${q.sort.ascending ? 'asc' : 'desc'} nulls last`
    : '';
  values.push(q.limit, q.offset);
  const filter = where.length > 0 ? ` where ${where.join(' and ')}` : '';
  return {
    text: `select to_jsonb(t) as row, count(*) over () as total from ${target(schema, table)} t${filter}${order} limit $${values.length - 1} offset $${values.length}`,
    values,
  };
}

export const rowBody = z.record(z.string(), z.unknown());

function assignments(columns: readonly string[], row: Record<string, unknown>, values: unknown[]): [string, string][] {
  return Object.entries(row).map(([name, value]) => {
    const column = requireColumn(columns, name);
    values.push(asParameter(value));
    return [column, `$${values.length}`];
  });
}

function keyCondition(primaryKey: readonly string[], key: Record<string, unknown>, values: unknown[]): string {
  if (primaryKey.length === 0)
    throw new ApiError(400, 'no_primary_key', 'this table has no primary key: rows can only be changed with SQL');
  return primaryKey
    .map((name) => {
      if (!(name in key) || key[name] === null || key[name] === undefined)
        throw new ApiError(400, 'invalid_key', `the key needs a value for "${name}"`);
      values.push(asParameter(key[name]));
      return `${ident(name)} = $${values.length}`;
    })
    .join(' and ');
}

export function planInsert(
  schema: string,
  table: string,
  columns: readonly string[],
  row: Record<string, unknown>,
): Plan {
  const values: unknown[] = [];
  const set = assignments(columns, row, values);
  const text =
    set.length === 0
      ? `insert into ${target(schema, table)} default values returning to_jsonb(${ident(table)}.*) as row`
      : `insert into ${target(schema, table)} (${set.map(([c]) => c).join(', ')}) values (${set.map(([, v]) => v).join(', ')}) returning to_jsonb(${ident(table)}.*) as row`;
  return { text, values };
}

export function planUpdate(
  schema: string,
  table: string,
  columns: readonly string[],
  primaryKey: readonly string[],
  key: Record<string, unknown>,
  row: Record<string, unknown>,
): Plan {
  const values: unknown[] = [];
  const set = assignments(columns, row, values);
  if (set.length === 0) throw new ApiError(400, 'invalid_row', 'nothing to update: the row names no column');
  const where = keyCondition(primaryKey, key, values);
  return {
    text: `update ${target(schema, table)} set ${set.map(([c, v]) => `${c} = ${v}`).join(', ')} where ${where} returning to_jsonb(${ident(table)}.*) as row`,
    values,
  };
}

export function planDelete(
  schema: string,
  table: string,
  primaryKey: readonly string[],
  key: Record<string, unknown>,
): Plan {
  const values: unknown[] = [];
  const where = keyCondition(primaryKey, key, values);
  return {
    text: `delete from ${target(schema, table)} where ${where} returning to_jsonb(${ident(table)}.*) as row`,
    values,
  };
}
