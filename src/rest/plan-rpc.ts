/**
 * Plans POST/GET /rpc/fn: a call with named arguments. Arguments are converted by PostgreSQL from
 * one JSON object (json_to_record with the arguments' declared types), as PostgREST does, so
 * arrays, JSON and every scalar type arrive typed. A function returning rows can be filtered,
 * ordered, limited and shaped with `select=` like a table. Pure: the request and the schema cache in,
 * SQL text and parameters out.
 */
import { ApiError } from '../errors.js';
import { ident } from '../db/index.js';
import type { ReadQuery } from './ast.js';
import { parseReadQuery } from './parse.js';
import { planRepresentation, type SqlPlan } from './plan-read.js';
import { withRange, type RpcRequest } from './request.js';
import type { DbFunction, Relation, SchemaCache } from './schema.js';
import { Params } from './sql.js';
import { countsTotal } from './content-range.js';
import { pickFunction } from './function-match.js';

export { pickFunction };
import { isJsonObject, stringifyJson } from '../platform/json.js';

export interface RpcPlan extends SqlPlan {
  /** `returns void`: answered 204 with no body. */
  readonly returnsVoid: boolean;
  /** GET/HEAD calls, and calls of functions that are not volatile, run read-only. */
  readonly readOnly: boolean;
  /** Where the answered page starts, for Content-Range (0 when no range applies). */
  readonly offset: number;
}

export function planRpc(cache: SchemaCache, request: RpcRequest, maxRows: number): RpcPlan {
  const { schema, name } = request;
  const isGet = request.method !== 'POST';

  // GET: parameters named like an argument are arguments; the rest filter the result.
  let args: Record<string, unknown> = {};
  // The argument names as given: a POST body that is not an object names none (it may be the one
  // json argument).
  let given: string[] = [];
  const filterParams = new URLSearchParams();
  const argNames = new Set(cache.functions(schema, name).flatMap((f) => f.args.map((a) => a.name)));
  if (isGet) {
    for (const [key, value] of request.params) {
      if (argNames.has(key)) args[key] = value;
      else filterParams.append(key, value);
    }
    given = Object.keys(args);
  } else {
    for (const [key, value] of request.params) filterParams.append(key, value);
    // A POST always has a body (an empty one is `{}`); JSON `null` is a value like any other.
    const body = request.body ? request.body.value : {};
    args = isJsonObject(body) ? body : { '': body };
    given = isJsonObject(body) ? Object.keys(body) : [];
  }
  const fn = pickFunction(cache, schema, name, given, !isGet);
  if (request.prefer.maxAffected !== undefined && request.prefer.handling === 'strict' && !fn.returnsSet) {
    // PostgREST counts a call's affected rows by the rows it answers: one value says nothing.
    throw new ApiError(
      400,
      'PGRST128',
      'Function must return SETOF or TABLE when max-affected preference is used with handling=strict',
      { details: null, hint: null },
    );
  }
  const singleArg = fn.args.length === 1 && fn.args[0]?.name === '';
  const filters = parseReadQuery(filterParams);
  if (request.range instanceof ApiError) throw request.range;
  const query = withRange(filters, request.range);

  const params = new Params();
  const passed = fn.args.filter((a) => a.name in args);
  // The arguments travel as one JSON parameter, added only when something reads it: a function
  // called without arguments has no parameter at all.
  const payload =
    singleArg || passed.length > 0 ? params.add(stringifyJson(singleArg ? (args[''] ?? args) : args)) : '';
  // Declared types come from the catalog (format_type), never from the request.
  const call = singleArg
    ? `${ident(fn.schema)}.${ident(fn.name)}(${payload}::${fn.args[0]?.type ?? 'json'})`
    : `${ident(fn.schema)}.${ident(fn.name)}(${passed.map((a) => `${ident(a.name)} := _a.${ident(a.name)}`).join(', ')})`;
  const from =
    singleArg || passed.length === 0
      ? ''
      : ` from json_to_record(${payload}::json) as _a(${passed.map((a) => `${ident(a.name)} ${a.type}`).join(', ')})`;

  // Prefer: count=exact|estimated counts the rows the filters keep, before the range (as PostgREST,
  // planned is not counted on calls).
  const counted = countsTotal(request.prefer.count);
  const root = query.ranges.find((r) => r.path.length === 0);
  let offset = root?.offset ?? 0;
  let text: string;
  let capped = false;
  if (fn.returnType === 'void') {
    // Not wrapped by the response-size guard: an outer query that never reads the call would let
    // PostgreSQL skip a stable or immutable function (and the exception it may raise).
    text = `select ${call} as _void, ''::text as body, 0 as bytes, 1 as page, null::bigint as total${from}`;
    capped = true;
    offset = 0;
  } else if (!fn.returnsSet && !fn.returnsComposite) {
    text = `select to_json(${call})::text as body, 1 as page, ${counted ? '1' : 'null'}::bigint as total${from}`;
    offset = 0;
  } else if (!fn.returnsComposite) {
    // setof a scalar: PostgREST answers a JSON array of the values (no filters or range apply, but
    // select= is still checked, and the parameters that adds are dropped: PostgreSQL refuses one it
    // cannot type, "could not determine data type of parameter").
    const planned = params.values.length;
    planRows(cache, resultRelation(cache, fn), query, params, '_src', maxRows);
    params.values.splice(planned);
    text = `select coalesce(json_agg(_v.v), '[]'::json)::text as body, count(*) as page, ${counted ? 'count(*)' : 'null::bigint'} as total from (select ${call} as v${from}) as _v`;
    offset = 0;
  } else {
    const relation = resultRelation(cache, fn);
    const called = `(select (r).* from (select ${call} as r${from}) as _c)`;
    // Counted, the call runs once in a CTE that both the page and the count read: a volatile
    // function's effects happen once.
    const source = counted ? '_src' : called;
    const rows = planRows(cache, relation, query, params, source, maxRows);
    const total = counted
      ? `(select count(*) from (${planRepresentation(cache, relation, withoutRootRange(query), params, source, maxRows, true)}) as _n)`
      : 'null::bigint';
    const aggregate = fn.returnsSet ? `coalesce(json_agg(_r), '[]'::json)` : `(array_agg(to_json(_r)))[1]`;
    text = `${counted ? `with _src as ${called} ` : ''}select ${aggregate}::text as body, count(_r) as page, ${total} as total from (${rows}) as _r`;
  }
  return {
    text,
    values: params.values,
    capped,
    returnsVoid: fn.returnType === 'void',
    offset,
    readOnly: isGet || fn.volatility !== 'volatile',
  };
}

/** The relation whose columns a set-returning function yields (a table type), or an open one. */
function resultRelation(cache: SchemaCache, fn: DbFunction): Relation {
  const typeName = fn.returnType.replace(/^setof\s+/i, '').replaceAll('"', '');
  const [maybeSchema, maybeName] = typeName.includes('.') ? typeName.split('.') : [fn.schema, typeName];
  const table = cache.relation(maybeSchema ?? fn.schema, maybeName ?? typeName);
  return (
    table ?? {
      schema: fn.schema,
      name: fn.name,
      kind: 'view',
      columns: new Map(),
      primaryKey: [],
      insertable: false,
      dynamicColumns: true,
    }
  );
}

function planRows(
  cache: SchemaCache,
  relation: Relation,
  query: ReadQuery,
  params: Params,
  source: string,
  maxRows: number,
): string {
  const root = query.ranges.find((r) => r.path.length === 0);
  const limited: ReadQuery = {
    ...query,
    ranges: [
      ...query.ranges.filter((r) => r.path.length > 0),
      { path: [], limit: Math.min(root?.limit ?? maxRows, maxRows), offset: root?.offset },
    ],
  };
  return planRepresentation(cache, relation, limited, params, source, maxRows, true);
}

/** The rows a count covers: the filters' rows, without the root's limit and offset. */
function withoutRootRange(query: ReadQuery): ReadQuery {
  return { ...query, ranges: query.ranges.filter((r) => r.path.length > 0) };
}
