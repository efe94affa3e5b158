/**
 * The whole /rest/v1 request as one value, parsed before anything is planned (PostgREST's
 * ApiRequest): the planners and responders never look at HTTP again. Pure: the HTTP adapter
 * (request-http.ts) reads the Context into a `RestInput` and this turns it into a `RestRequest`,
 * or throws the ApiError PostgREST answers.
 *
 * The stages run in the order their errors have always been answered in: profile (406), table
 * (404), query string (400), Range (416), body (400).
 */
import { ApiError } from '../errors.js';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from '../platform/body.js';
import type { ReadQuery } from './ast.js';
import { parsePlanMedia, unacceptableMedia, type PlanMedia } from './plan-media.js';
import { acceptsStrippedNulls } from './media.js';
import { parseReadQuery } from './parse.js';
import { parsePrefer, type Preferences } from './prefer.js';
import type { Relation, SchemaCache } from './schema.js';
import { parseJson } from '../platform/json.js';

/** What the parser reads of an HTTP request: nothing else of it reaches the planners. */
export interface RestInput {
  readonly method: string;
  /** `/:relation` or `/rpc/:fn`. */
  readonly target: { readonly kind: 'relation' | 'function'; readonly name: string };
  readonly search: URLSearchParams;
  readonly headers: RestHeaders;
  /** The raw body text ('' when the method has none). */
  readonly body: string;
}

export interface RestHeaders {
  readonly prefer?: string;
  readonly range?: string;
  readonly accept?: string;
  readonly acceptProfile?: string;
  readonly contentProfile?: string;
}

/** `Range: 0-9`: the rows from `offset`, at most `limit` of them (none: to the end). */
export interface ItemRange {
  readonly offset: number;
  readonly limit: number | undefined;
}

/**
 * A JSON request body: the text as it came and the value the planners read today. Issue 12 (numbers
 * passed through losslessly) changes only `parseJsonBody`.
 */
export interface JsonBody {
  readonly text: string;
  readonly value: unknown;
}

interface Common {
  /** The schema addressed (Accept-Profile for GET/HEAD, Content-Profile otherwise). */
  readonly schema: string;
  readonly prefer: Preferences;
  /** `Accept: application/vnd.pgrst.object+json` (postgrest-js `.single()`, `.maybeSingle()`). */
  readonly single: boolean;
  /** `Accept: application/vnd.pgrst.object+json;nulls=stripped` (or array+json): null fields left out. */
  readonly stripNulls: boolean;
  /** HEAD: the headers of a GET, no body. */
  readonly head: boolean;
  /** `Accept: application/vnd.pgrst.plan…` (postgrest-js `.explain()`): the plan, not the rows. */
  readonly plan: PlanMedia | undefined;
  /** `Accept: application/geo+json` (postgrest-js `.geojson()`): a GeoJSON FeatureCollection. */
  readonly geojson: boolean;
}

export interface ReadRequest extends Common {
  readonly action: 'read';
  readonly relation: Relation;
  /** The query string, with the Range header as the root range when the query gives none. */
  readonly query: ReadQuery;
  /** `Accept: text/csv` (postgrest-js `.csv()`). */
  readonly csv: boolean;
}

export interface WriteRequest extends Common {
  readonly action: 'insert' | 'update' | 'delete';
  readonly relation: Relation;
  readonly query: ReadQuery;
  /** Prefer: return=representation: the written rows are the body. */
  readonly representation: boolean;
  /** POST with Prefer: return=headers-only: a `Location` header names the first row. */
  readonly location: boolean;
  /** POST and PATCH; DELETE has none. */
  readonly body: JsonBody | undefined;
  /** `columns=` (POST): the body keys to insert. */
  readonly columns: string | undefined;
  /** `on_conflict=` (POST with Prefer: resolution). */
  readonly onConflict: string | undefined;
}

export interface RpcRequest extends Common {
  readonly action: 'rpc';
  readonly name: string;
  /** GET/HEAD calls run read-only and take their arguments from the query string. */
  readonly method: 'GET' | 'HEAD' | 'POST';
  /** The query string as it came: which params are arguments is known only with the function. */
  readonly params: readonly (readonly [string, string])[];
  /** POST: the arguments. */
  readonly body: JsonBody | undefined;
  /**
   * The Range header, or its 416 as a value: a call answers a malformed Range only after its
   * function is found and its filters parse (planRpc throws it then).
   */
  readonly range: ItemRange | ApiError | undefined;
}

export type RestRequest = ReadRequest | WriteRequest | RpcRequest;

const SINGLE = 'application/vnd.pgrst.object+json';

const WRITE_ACTIONS: Readonly<Record<string, WriteRequest['action']>> = {
  POST: 'insert',
  PATCH: 'update',
  DELETE: 'delete',
};

/** `cache` resolves the table or view (its 404 comes before any query-string error). */
export function parseRestRequest(input: RestInput, schemas: readonly string[], cache: SchemaCache): RestRequest {
  const method = input.method.toUpperCase();
  const reads = method === 'GET' || method === 'HEAD';
  const accept = input.headers.accept ?? '';
  const single = accept.includes(SINGLE);
  const stripNulls = acceptsStrippedNulls(accept);
  const head = method === 'HEAD';
  const plan = parsePlanMedia(accept);
  const geojson = plan === undefined && /^\s*application\/geo\+json\b/i.test(accept);
  if (input.target.kind === 'function') {
    if (!reads && method !== 'POST') throw unsupported(method);
    const schema = chooseSchema(schemas, reads ? input.headers.acceptProfile : input.headers.contentProfile);
    const prefer = parsePrefer(input.headers.prefer);
    const body = reads ? undefined : parseJsonBody(input.body);
    return {
      action: 'rpc',
      schema,
      prefer,
      single,
      stripNulls,
      head,
      plan,
      geojson,
      name: input.target.name,
      method,
      params: [...input.search],
      body,
      range: rangeOrError(input.headers.range),
    };
  }
  const action = reads ? 'read' : WRITE_ACTIONS[method];
  if (!action) throw unsupported(method);
  const schema = chooseSchema(schemas, reads ? input.headers.acceptProfile : input.headers.contentProfile);
  const relation = findRelation(cache, schema, input.target.name);
  const unacceptable = unacceptableMedia(accept);
  if (unacceptable) {
    throw new ApiError(406, 'PGRST107', `None of these media types are available: ${unacceptable.join(', ')}`, {
      details: null,
      hint: null,
    });
  }
  const prefer = parsePrefer(input.headers.prefer);
  const query = parseReadQuery(input.search);
  // What reads and writes of a table or view share.
  const common = { schema, prefer, single, stripNulls, head, plan, geojson, relation };
  if (action === 'read') {
    return {
      action,
      ...common,
      query: withRange(query, parseRange(input.headers.range)),
      csv: accept.startsWith('text/csv'),
    };
  }
  return {
    action,
    ...common,
    query,
    representation: prefer.return === 'representation',
    location: action === 'insert' && prefer.return === 'headers-only',
    body: action === 'delete' ? undefined : parseJsonBody(input.body),
    columns: action === 'insert' ? (input.search.get('columns') ?? undefined) : undefined,
    onConflict: action === 'insert' ? (input.search.get('on_conflict') ?? undefined) : undefined,
  };
}

/** The schema a request addresses: the profile header's, which must be exposed, or the first exposed. */
export function chooseSchema(schemas: readonly string[], asked: string | undefined): string {
  if (asked === undefined) return schemas[0] ?? 'public';
  if (!schemas.includes(asked)) {
    throw new ApiError(406, 'PGRST106', `The schema must be one of the following: ${schemas.join(', ')}`);
  }
  return asked;
}

export function findRelation(cache: SchemaCache, schema: string, name: string): Relation {
  const relation = cache.relation(schema, name);
  if (!relation) {
    throw new ApiError(404, 'PGRST205', `Could not find the table '${schema}.${name}' in the schema cache`, {
      details: null,
      hint: null,
    });
  }
  return relation;
}

/** A data API request body: JSON (empty is `{}`), nested at most MAX_JSON_DEPTH deep. */
export function parseJsonBody(text: string): JsonBody {
  if (text.trim() === '') return { text, value: {} };
  let value: unknown;
  try {
    // Numbers as written (platform/json.ts): PostgREST hands PostgreSQL the text as it came.
    value = parseJson(text);
  } catch (err) {
    throw new ApiError(400, 'PGRST102', 'Empty or invalid json', { details: (err as Error).message, hint: null });
  }
  if (jsonDepthExceeds(value))
    throw new ApiError(400, 'PGRST102', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`, {
      details: null,
      hint: null,
    });
  return { text, value };
}

/** `Range: 0-9` (items), as postgrest-js sends for `.range()`. */
export function parseRange(header: string | undefined): ItemRange | undefined {
  if (!header) return undefined;
  const match = /^(?:items=)?(\d+)-(\d*)$/.exec(header.trim());
  if (!match)
    throw new ApiError(416, 'PGRST103', 'Requested range not satisfiable', {
      details: `"${header.slice(0, 40)}" is not a range like 0-9`,
    });
  const from = Number(match[1]);
  const to = match[2] === '' ? undefined : Number(match[2]);
  if (to !== undefined && to < from)
    throw new ApiError(416, 'PGRST103', 'Requested range not satisfiable', {
      details: 'The lower boundary must be lower than or equal to the upper boundary',
    });
  return { offset: from, limit: to === undefined ? undefined : to - from + 1 };
}

function rangeOrError(header: string | undefined): ItemRange | ApiError | undefined {
  try {
    return parseRange(header);
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
}

/** The Range header applies when the query string gives the root no limit/offset of its own. */
export function withRange(query: ReadQuery, range: ItemRange | undefined): ReadQuery {
  if (!range || query.ranges.some((r) => r.path.length === 0)) return query;
  return { ...query, ranges: [...query.ranges, { path: [], limit: range.limit, offset: range.offset }] };
}

function unsupported(method: string): ApiError {
  return new ApiError(405, 'PGRST117', `Unsupported HTTP method: ${method}`);
}
