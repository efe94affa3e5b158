/**
 * Plans writes (POST, PATCH, DELETE) as one statement: a data-modifying CTE `source`, then the body
 * (the `select=` representation of the written rows, or only their count for return=minimal).
 */
import { ApiError } from '../errors.js';
import type { ReadQuery } from './ast.js';
import { conditionSql } from './conditions.js';
import { checkColumn, checkPaths, planRepresentation, qualified, rootOrderSql, type SqlPlan } from './plan-read.js';
import type { Preferences } from './prefer.js';
import type { Relation, SchemaCache } from './schema.js';
import { ident } from '../db/index.js';
import { Params } from './sql.js';
import { isJsonObject, stringifyJson } from '../platform/json.js';

type JsonObject = Record<string, unknown>;

export interface WriteInput {
  readonly cache: SchemaCache;
  readonly relation: Relation;
  readonly query: ReadQuery;
  readonly prefer: Preferences;
  /** Include the written rows in the body (return=representation). */
  readonly representation: boolean;
  readonly maxRows: number;
  /** Answer the primary key of the first written row, for a `Location` header (POST, return=headers-only). */
  readonly location: boolean;
  /** REST_MAX_RESPONSE_BYTES: a larger representation is withheld (the caller answers 413). */
  readonly maxBytes: number;
}

function missingColumn(relation: Relation, name: string): ApiError {
  return new ApiError(
    400,
    'PGRST204',
    `Could not find the '${name}' column of '${relation.name}' in the schema cache`,
    { details: null, hint: null },
  );
}

/** What the written rows give back: whole rows for the body or the Location header, else a count. */
function returningClause(input: WriteInput): string {
  return input.representation || locationKey(input).length > 0 ? 'returning t.*' : 'returning 1';
}

function locationKey(input: WriteInput): readonly string[] {
  return input.location ? input.relation.primaryKey : [];
}

function finish(input: WriteInput, params: Params, dml: string, countsInserted = false): SqlPlan {
  const returning = returningClause(input);
  const key = locationKey(input);
  const location = key.length
    ? `(select json_build_array(${key.map((k) => `s.${ident(k)}::text`).join(', ')})::text from source as s limit 1)`
    : 'null::text';
  const body = input.representation
    ? `(select coalesce(json_agg(_r), '[]'::json)::text from (${planRepresentation(input.cache, input.relation, input.query, params, 'source', input.maxRows)}) as _r)`
    : `'[]'`;
  const max = params.add(input.maxBytes);
  // After `page`, whose count(*) runs the DML: the counter is read once every row was written.
  const inserted = countsInserted ? `nullif(current_setting('pgrst.inserted', true), '')::int` : 'null::int';
  return {
    text: `with source as (${dml} ${returning}), result as (select ${body} as body) select case when octet_length(result.body) <= ${max} then result.body end as body, octet_length(result.body) as bytes, (select count(*) from source) as page, null::bigint as total, ${location} as location, ${inserted} as inserted from result`,
    values: params.values,
    capped: true,
  };
}

function rootWhere(input: WriteInput, params: Params, alias = 't'): string {
  const conditions = input.query.filters
    .filter((f) => f.path.length === 0)
    .map((f) => {
      checkFilterColumns(input.relation, f.condition);
      return conditionSql(alias, f.condition, params);
    });
  return conditions.length ? ` where ${conditions.join(' and ')}` : '';
}

/**
 * The rows a PATCH or DELETE touches: its filters, and with `limit` (supabase-js
 * `.order().limit()`) only the first rows in that order, picked by ctid as PostgREST does.
 */
function targetRows(input: WriteInput, params: Params): string {
  const range = input.query.ranges.find((r) => r.path.length === 0);
  if (!range) return rootWhere(input, params);
  const hasOrder = input.query.order.some((o) => o.path.length === 0 && o.terms.length > 0);
  if (!hasOrder) {
    throw new ApiError(400, 'PGRST109', "A 'limit' was applied without an explicit 'order'", {
      details: null,
      hint: "Apply an 'order' using unique column(s)",
    });
  }
  if (input.relation.kind !== 'table' && input.relation.kind !== 'partitioned_table') {
    throw new ApiError(
      400,
      'PGRST109',
      `'limit' on a PATCH or DELETE needs a table; ${input.relation.name} is a ${input.relation.kind.replace('_', ' ')}`,
    );
  }
  const order = rootOrderSql(input.cache, input.relation, input.query, params, 's');
  const limit = range.limit !== undefined ? ` limit ${params.add(range.limit)}` : '';
  const offset = range.offset ? ` offset ${params.add(range.offset)}` : '';
  // ctid is unique only within one partition (or inheritance child): tableoid completes it.
  return ` where (t.tableoid, t.ctid) in (select s.tableoid, s.ctid from ${qualified(input.relation)} as s${rootWhere(input, params, 's')}${order}${limit}${offset})`;
}

function checkFilterColumns(relation: Relation, condition: ReadQuery['filters'][number]['condition']): void {
  if (condition.kind === 'filter') checkColumn(relation, condition.field.name);
  else condition.conditions.forEach((c) => checkFilterColumns(relation, c));
}

/**
 * POST: rows go through json_populate_recordset, so PostgreSQL converts each value to its column's
 * type. Rows that lack a column get NULL, or, with Prefer: missing=default, the column's default.
 * As PostgREST does, one INSERT takes every row, each merged over an object of the defaults: a
 * default is evaluated once per row, whether that row uses it or not, so a bulk insert consumes
 * sequence values as PostgREST's does and the ids a client sees are the same.
 */
export function planInsert(
  input: WriteInput,
  body: unknown,
  columnsParam: string | undefined,
  onConflict: string | undefined,
): SqlPlan {
  checkPaths(input.query);
  const rows = (Array.isArray(body) ? body : [body]) as unknown[];
  if (!rows.every(isJsonObject)) {
    throw new ApiError(400, 'PGRST102', 'All object keys must match', {
      details: 'The body must be a JSON object or an array of objects',
    });
  }
  const objects = rows as JsonObject[];
  const { relation } = input;
  let columns: string[];
  if (columnsParam !== undefined) {
    columns = columnsParam
      .split(',')
      .map((c) => c.trim().replace(/^"(.*)"$/, '$1'))
      .filter((c) => c !== '');
  } else {
    columns = Object.keys(objects[0] ?? {});
    const key = columns.slice().sort().join('\u0000');
    if (objects.some((o) => Object.keys(o).sort().join('\u0000') !== key)) {
      throw new ApiError(400, 'PGRST102', 'All object keys must match', { details: null, hint: null });
    }
  }
  for (const c of columns) if (!relation.columns.has(c)) throw missingColumn(relation, c);

  const params = new Params();
  if (objects.length === 0) {
    return finish(
      input,
      params,
      `insert into ${qualified(relation)} as t select * from ${qualified(relation)} where false`,
    );
  }
  if (columns.length === 0) {
    return finish(
      input,
      params,
      `insert into ${qualified(relation)} as t select from json_array_elements(${params.add(stringifyJson(objects))}::json)`,
    );
  }
  const upsert = input.prefer.resolution === 'merge-duplicates';
  const conflict = conflictClause(input, relation, onConflict, columns);
  const names = columns.map(ident).join(', ');
  const picked = objects.map((r) =>
    Object.fromEntries(
      columns.flatMap((c) => (c in r || input.prefer.missing !== 'default' ? [[c, r[c] ?? null]] : [])),
    ),
  );
  const payload = params.add(stringifyJson(picked));
  const defaults =
    input.prefer.missing === 'default'
      ? columns.flatMap((c) => {
          const expr = relation.columns.get(c)?.defaultExpr;
          // The expression is the catalog's text (pg_get_expr), spliced as PostgREST splices it.
          return expr ? [`${params.add(c)}::text, ${expr}`] : [];
        })
      : [];
  const source = defaults.length
    ? `jsonb_populate_recordset(null::${qualified(relation)}, (select jsonb_agg(jsonb_build_object(${defaults.join(', ')}) || _e) from jsonb_array_elements(${payload}::jsonb) as _e))`
    : `json_populate_recordset(null::${qualified(relation)}, ${payload}::json)`;
  // An upsert counts the rows it inserts (each source row +1, each conflicting update -1), as
  // PostgREST does with pgrst.inserted: it answers 200 when every row was an update.
  const counted = upsert ? ` where ${insertedCounter(1)}` : '';
  return finish(
    input,
    params,
    `insert into ${qualified(relation)} as t (${names}) select ${names} from ${source}${counted}${conflict}`,
    upsert,
  );
}

/** set_config in a WHERE that is always true: counts rows into `pgrst.inserted` (transaction-local). */
function insertedCounter(step: 1 | -1): string {
  return `set_config('pgrst.inserted', (coalesce(nullif(current_setting('pgrst.inserted', true), '')::int, 0) ${step > 0 ? '+' : '-'} 1)::text, true) <> '${step > 0 ? '0' : '-1'}'`;
}

function conflictClause(
  input: WriteInput,
  relation: Relation,
  onConflict: string | undefined,
  columns: string[],
): string {
  if (!input.prefer.resolution) return '';
  const target = onConflict !== undefined ? onConflict.split(',').map((c) => c.trim()) : relation.primaryKey;
  if (target.length === 0)
    throw new ApiError(400, 'PGRST100', `on_conflict is required: ${relation.name} has no primary key`);
  for (const c of target) if (!relation.columns.has(c)) throw missingColumn(relation, c);
  const list = target.map(ident).join(', ');
  if (input.prefer.resolution === 'ignore-duplicates') return ` on conflict (${list}) do nothing`;
  // Every given column is set, the conflict target's too (PostgREST): a conflicting row is updated
  // and returned even when the body holds only its key.
  const updates = columns.map((c) => `${ident(c)} = excluded.${ident(c)}`);
  return ` on conflict (${list}) do update set ${updates.join(', ')} where ${insertedCounter(-1)}`;
}

/** PATCH: the body's keys are the columns set; filters choose the rows. */
export function planUpdate(input: WriteInput, body: unknown): SqlPlan {
  checkPaths(input.query);
  if (!isJsonObject(body)) {
    throw new ApiError(400, 'PGRST102', 'Empty or invalid json', { details: 'A PATCH body must be a JSON object' });
  }
  const { relation } = input;
  const columns = Object.keys(body);
  for (const c of columns) if (!relation.columns.has(c)) throw missingColumn(relation, c);
  const params = new Params();
  if (columns.length === 0) {
    return finish(input, params, `select t.* from ${qualified(relation)} as t where false`);
  }
  const payload = params.add(stringifyJson(body));
  const set = columns.map((c) => `${ident(c)} = _x.${ident(c)}`).join(', ');
  const where = targetRows(input, params);
  return finish(
    input,
    params,
    `update ${qualified(relation)} as t set ${set} from (select * from json_populate_record(null::${qualified(relation)}, ${payload}::json)) as _x${where}`,
  );
}

/** DELETE: filters choose the rows. */
export function planDelete(input: WriteInput): SqlPlan {
  checkPaths(input.query);
  const params = new Params();
  return finish(input, params, `delete from ${qualified(input.relation)} as t${targetRows(input, params)}`);
}
