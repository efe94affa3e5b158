/**
 * POST/GET /rpc/fn: calls a function with named arguments. Arguments are converted by PostgreSQL
 * from one JSON object (json_to_record with the arguments' declared types), as PostgREST does, so
 * arrays, JSON and every scalar type arrive typed. A function returning rows can be filtered,
 * ordered, limited and shaped with `select=` like a table.
 */
import { headerOf } from '../platform/http.js';
import type { Context } from 'hono';
import { ApiError } from '../errors.js';
import type { KeyEnv } from '../platform/keys.js';
import type { ReadQuery } from './ast.js';
import { parseReadQuery } from './parse.js';
import { planRepresentation } from './plan-read.js';
import { parsePrefer } from './prefer.js';
import { jsonBody } from './write.js';
import { execute, notSingle, rangeHeader, requestClaims, requestSchema, respond, respondSingle, wantsSingle, type ReadRow, type RestContext } from './routes.js';
import type { DbFunction, Relation, SchemaCache } from './schema.js';
import { ident } from '../db/index.js';
import { Params } from './sql.js';

function pickFunction(cache: SchemaCache, schema: string, name: string, given: string[]): DbFunction {
  const overloads = cache.functions(schema, name);
  const fits = overloads.filter((f) => {
    const names = new Set(f.args.map((a) => a.name));
    return given.every((g) => names.has(g)) && f.args.every((a) => a.hasDefault || given.includes(a.name));
  });
  // A single unnamed json/jsonb argument takes the whole body (Prefer: params=single-object).
  const single = overloads.filter((f) => f.args.length === 1 && f.args[0]?.name === '' && /^jsonb?$/.test(f.args[0]?.type ?? ''));
  const found = fits.length ? fits : single;
  if (found.length === 1) return found[0] as DbFunction;
  if (found.length > 1) {
    throw new ApiError(300, 'PGRST203', `Could not choose the best candidate function between: ${found.map((f) => `${schema}.${name}(${f.args.map((a) => `${a.name} => ${a.type}`).join(', ')})`).join(', ')}`, {
      hint: 'Try renaming the parameters or the function itself in the database so function overloading can be resolved',
    });
  }
  throw new ApiError(404, 'PGRST202', `Could not find the function ${schema}.${name}${given.length ? `(${given.join(', ')})` : ' without parameters'} in the schema cache`, {
    details: `Searched for the function ${schema}.${name}${given.length ? ` with parameters ${given.join(', ')}` : ' without parameters'}, but no matches were found in the schema cache.`,
    hint: null,
  });
}

export async function rpc(ctx: RestContext, c: Context<KeyEnv>) {
  const claims = await requestClaims(ctx, c);
  const cache = await ctx.cache.get();
  const isGet = c.req.method !== 'POST';
  const schema = requestSchema(ctx, c, isGet ? 'accept-profile' : 'content-profile');
  const name = c.req.param('fn') ?? '';
  const url = new URL(c.req.url);
  const prefer = parsePrefer(headerOf(c, 'prefer'));

  // GET: parameters named like an argument are arguments; the rest filter the result.
  let args: Record<string, unknown> = {};
  const filterParams = new URLSearchParams();
  const argNames = new Set(cache.functions(schema, name).flatMap((f) => f.args.map((a) => a.name)));
  if (isGet) {
    for (const [key, value] of url.searchParams) {
      if (argNames.has(key)) args[key] = value;
      else filterParams.append(key, value);
    }
  } else {
    for (const [key, value] of url.searchParams) filterParams.append(key, value);
    const body = await jsonBody(c);
    args = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : { '': body };
  }
  const fn = pickFunction(cache, schema, name, Object.keys(args).filter((k) => k !== ''));
  const singleArg = fn.args.length === 1 && fn.args[0]?.name === '';
  let query = parseReadQuery(filterParams);
  const range = rangeHeader(c);
  if (range && !query.ranges.some((r) => r.path.length === 0)) query = { ...query, ranges: [...query.ranges, { path: [], ...range }] };

  const params = new Params();
  const passed = fn.args.filter((a) => a.name in args);
  // The arguments travel as one JSON parameter, added only when something reads it: a function
  // called without arguments has no parameter at all.
  const payload = singleArg || passed.length > 0 ? params.add(JSON.stringify(singleArg ? (args[''] ?? args) : args)) : '';
  // Declared types come from the catalog (format_type), never from the request.
  const call = singleArg
    ? `${ident(fn.schema)}.${ident(fn.name)}(${payload}::${fn.args[0]?.type ?? 'json'})`
    : `${ident(fn.schema)}.${ident(fn.name)}(${passed.map((a) => `${ident(a.name)} := _a.${ident(a.name)}`).join(', ')})`;
  const from = singleArg || passed.length === 0 ? '' : ` from json_to_record(${payload}::json) as _a(${passed.map((a) => `${ident(a.name)} ${a.type}`).join(', ')})`;

  let text: string;
  let capped = false;
  if (fn.returnType === 'void') {
    // Not wrapped by the response-size guard: an outer query that never reads the call would let
    // PostgreSQL skip a stable or immutable function (and the exception it may raise).
    text = `select ${call} as _void, ''::text as body, 0 as bytes, 1 as page, null::bigint as total${from}`;
    capped = true;
  } else if (!fn.returnsSet && !fn.returnsComposite) {
    text = `select to_json(${call})::text as body, 1 as page, null::bigint as total${from}`;
  } else {
    const relation = resultRelation(cache, fn);
    const source = `(select (r).* from (select ${call} as r${from}) as _c)`;
    const rows = planRows(cache, relation, query, params, source, ctx.services.config.rest.maxRows);
    const aggregate = fn.returnsSet ? `coalesce(json_agg(_r), '[]'::json)` : `(array_agg(to_json(_r)))[1]`;
    text = `select ${aggregate}::text as body, count(_r) as page, null::bigint as total from (${rows}) as _r`;
    if (!fn.returnsComposite) {
      // setof a scalar: PostgREST answers a JSON array of the values.
      text = `select coalesce(json_agg(_v.v), '[]'::json)::text as body, count(*) as page, null::bigint as total from (select ${call} as v${from}) as _v`;
    }
  }
  const row = await execute<ReadRow>(ctx, claims, { text, values: params.values, capped }, { prefer, readOnly: isGet || fn.volatility !== 'volatile', mayExceedCap: true });
  if (fn.returnType === 'void') return c.body(null, 204);
  if (wantsSingle(c)) {
    const value = JSON.parse(row.body ?? 'null') as unknown;
    const rows = Array.isArray(value) ? value : [value];
    if (rows.length !== 1) throw notSingle(rows.length);
    return respondSingle(c, 200, JSON.stringify(rows));
  }
  // A scalar function that returned SQL NULL answers JSON null.
  return respond(c, 200, row.body ?? 'null', 'application/json; charset=utf-8');
}

/** The relation whose columns a set-returning function yields (a table type), or an open one. */
function resultRelation(cache: SchemaCache, fn: DbFunction): Relation {
  const typeName = fn.returnType.replace(/^setof\s+/i, '').replaceAll('"', '');
  const [maybeSchema, maybeName] = typeName.includes('.') ? typeName.split('.') : [fn.schema, typeName];
  const table = cache.relation(maybeSchema ?? fn.schema, maybeName ?? typeName);
  return table ?? { schema: fn.schema, name: fn.name, kind: 'view', columns: new Map(), primaryKey: [], insertable: false, dynamicColumns: true };
}

function planRows(cache: SchemaCache, relation: Relation, query: ReadQuery, params: Params, source: string, maxRows: number): string {
  const root = query.ranges.find((r) => r.path.length === 0);
  const limited: ReadQuery = {
    ...query,
    ranges: [...query.ranges.filter((r) => r.path.length > 0), { path: [], limit: Math.min(root?.limit ?? maxRows, maxRows), offset: root?.offset }],
  };
  return planRepresentation(cache, relation, limited, params, source, maxRows, true);
}
