/**
 * The list query (POST /object/list/<bucket>), planned as SQL text and parameters: the objects and
 * sub-folders one level below a prefix, as storage-api's `storage.search` returns them (a folder is
 * a row with a null id). It runs as the caller, so RLS hides the objects they may not see.
 */
import { nulMessage } from '../platform/body.js';
import { StorageErrors } from './errors.js';

const SORT_COLUMNS = new Set(['name', 'updated_at', 'created_at', 'last_accessed_at']);
export const MAX_LIST_LIMIT = 1000;

export interface SqlPlan {
  readonly text: string;
  readonly values: unknown[];
}

export function planList(bucket: string, body: Record<string, unknown>): SqlPlan {
  const prefix = typeof body.prefix === 'string' ? body.prefix.replace(/^\/+/, '') : '';
  // readJsonBody refuses NUL in any body; kept here too, for the planner's own callers.
  if (prefix.includes('\u0000')) throw StorageErrors.invalidRequest(nulMessage('prefix'));
  const folder = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  const limit = intOption(body.limit, 'limit', 100);
  if (limit < 1 || limit > MAX_LIST_LIMIT)
    throw StorageErrors.invalidRequest(`limit must be between 1 and ${MAX_LIST_LIMIT}`);
  const offset = intOption(body.offset, 'offset', 0);
  const search = typeof body.search === 'string' ? body.search : '';
  if (search.includes('\u0000')) throw StorageErrors.invalidRequest(nulMessage('search'));
  const sortBy = (body.sortBy ?? {}) as { column?: unknown; order?: unknown };
  const column = typeof sortBy.column === 'string' ? sortBy.column : 'name';
  const order = typeof sortBy.order === 'string' ? sortBy.order.toLowerCase() : 'asc';
  if (!SORT_COLUMNS.has(column))
    throw StorageErrors.invalidRequest(`sortBy.column must be one of ${[...SORT_COLUMNS].join(', ')}`);
  if (order !== 'asc' && order !== 'desc') throw StorageErrors.invalidRequest('sortBy.order must be asc or desc');
  // `column` and `order` come from the fixed lists above; every value is a parameter.
  return {
    text: `with entries as (
        select o.id, o.updated_at, o.created_at, o.last_accessed_at, o.metadata, substr(o.name, char_length($2) + 1) as rest
        from storage.objects o
        where o.bucket_id = $1 and starts_with(o.name, $2)
      ), items as (
        select distinct split_part(rest, '/', 1) as name, null::uuid as id, null::timestamptz as updated_at, null::timestamptz as created_at,
               null::timestamptz as last_accessed_at, null::jsonb as metadata
        from entries where strpos(rest, '/') > 0
        union all
        select rest, id, updated_at, created_at, last_accessed_at, metadata from entries where strpos(rest, '/') = 0
      )
      select name, id, updated_at, created_at, last_accessed_at, metadata from items
      where $3 = '' or name ilike replace(replace(replace($3, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'
      order by ${column} ${order} nulls ${order === 'asc' ? 'first' : 'last'}, name ${order}
      limit $4 offset $5`,
    values: [bucket, folder, search, limit, offset],
  };
}

function intOption(value: unknown, name: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  // Bounded, so PostgreSQL never sees a bigint it cannot hold (that would be a 500, not a 400).
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 1_000_000_000)
    throw StorageErrors.invalidRequest(`${name} must be a whole number from 0 to 1000000000`);
  return value;
}
