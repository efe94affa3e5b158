/**
 * The one place /rest/v1 answers are written: Content-Range, Preference-Applied, Location, a single
 * object, CSV, and HEAD (the headers of a GET, no body).
 */
import type { Context } from 'hono';
import { ApiError } from '../errors.js';
import { callRange, contentRange, countsTotal, writeContentRange } from './content-range.js';
import type { ReadRow } from './execute.js';
import { strippedContentType, stripNulls } from './media.js';
import type { ReadRequest, RpcRequest, WriteRequest } from './request.js';
import { parseJson, stringifyJson } from '../platform/json.js';

const SINGLE = 'application/vnd.pgrst.object+json';
const JSON_TYPE = 'application/json; charset=utf-8';

/** PostgREST's 406 when one object was asked for and `rows` came. */
export function notSingle(rows: number): ApiError {
  return new ApiError(406, 'PGRST116', 'Cannot coerce the result to a single JSON object', {
    details: `The result contains ${rows} rows`,
    hint: null,
  });
}

export function respondRead(c: Context, request: ReadRequest, row: ReadRow): Response {
  const page = Number(row.page);
  const total = row.total === null ? undefined : Number(row.total);
  const offset = request.query.ranges.find((r) => r.path.length === 0)?.offset ?? 0;
  c.header('content-range', page === 0 ? `*/${total ?? '*'}` : `${offset}-${offset + page - 1}/${total ?? '*'}`);
  if (request.prefer.count) c.header('preference-applied', `count=${request.prefer.count}`);
  if (request.single) {
    if (page !== 1) throw notSingle(page);
    return respondSingle(c, request, 200, row.body);
  }
  const partial = total !== undefined && page > 0 && (offset > 0 || offset + page < total);
  // PostgreSQL wrote the CSV (plan-read.ts), as PostgREST has it write it.
  if (request.csv) return respond(c, request, partial ? 206 : 200, row.body, 'text/csv; charset=utf-8');
  if (request.geojson) return respond(c, request, partial ? 206 : 200, row.body, 'application/geo+json; charset=utf-8');
  return respondJson(c, request, partial ? 206 : 200, row.body);
}

export function respondWrite(
  c: Context,
  request: WriteRequest,
  row: ReadRow & { location: string | null; inserted?: number | null },
): Response {
  const { prefer, relation } = request;
  const affected = Number(row.page);
  const applied = [
    prefer.return && `return=${prefer.return}`,
    prefer.count && `count=${prefer.count}`,
    prefer.resolution && `resolution=${prefer.resolution}`,
    prefer.missing && `missing=${prefer.missing}`,
    prefer.tx && `tx=${prefer.tx}`,
    prefer.maxAffected !== undefined && prefer.handling === 'strict' && `max-affected=${prefer.maxAffected}`,
  ].filter(Boolean);
  if (applied.length) c.header('preference-applied', applied.join(', '));
  const insert = request.action === 'insert';
  const counted = countsTotal(prefer.count);
  // An insert names no range, and its total only when counted (PostgREST: `*/*` without count=).
  c.header(
    'content-range',
    insert ? contentRange(1, 0, counted ? affected : undefined) : writeContentRange(request.action, affected, counted),
  );
  // An upsert that only updated rows answers 200, as PostgREST's pgrst.inserted counter decides.
  const onlyUpdated = prefer.resolution === 'merge-duplicates' && typeof row.inserted === 'number' && row.inserted <= 0;
  const status = insert && !onlyUpdated ? 201 : 200;
  if (request.location && row.location !== null)
    c.header('location', locationOf(relation.name, relation.primaryKey, JSON.parse(row.location) as (string | null)[]));
  if (!request.representation) return c.body(null, insert ? status : 204);
  if (request.single) return respondSingle(c, request, status, row.body);
  return respondJson(c, request, status, row.body);
}

/** `offset`: where the call's page starts (`offset=` or the Range header). */
export function respondRpc(
  c: Context,
  request: RpcRequest,
  row: ReadRow,
  plan: { readonly returnsVoid: boolean; readonly offset: number },
): Response {
  const total = row.total === null ? undefined : Number(row.total);
  const range = callRange(plan.offset, Number(row.page), total);
  c.header('content-range', range.header);
  const applied = [
    request.prefer.count && `count=${request.prefer.count}`,
    request.prefer.tx && `tx=${request.prefer.tx}`,
    request.prefer.maxAffected !== undefined &&
      request.prefer.handling === 'strict' &&
      `max-affected=${request.prefer.maxAffected}`,
  ].filter(Boolean);
  if (applied.length) c.header('preference-applied', applied.join(', '));
  if (plan.returnsVoid) return c.body(null, 204);
  if (request.single) {
    const value = parseJson(row.body ?? 'null');
    const rows = Array.isArray(value) ? value : [value];
    if (rows.length !== 1) throw notSingle(rows.length);
    return respondSingle(c, request, 200, stringifyJson(rows));
  }
  // A scalar function that returned SQL NULL answers JSON null.
  return respondJson(c, request, range.status, row.body ?? 'null');
}

/** HEAD answers the headers a GET would, and no body. */
function respond(
  c: Context,
  request: { readonly head: boolean },
  status: 200 | 201 | 206,
  body: string,
  contentType: string,
): Response {
  c.header('content-type', contentType);
  return request.head ? c.body(null, status) : c.body(body, status);
}

interface JsonAnswer {
  readonly head: boolean;
  readonly stripNulls: boolean;
}

/** A JSON body as PostgreSQL wrote it, or without its null fields when they were asked stripped. */
function respondJson(c: Context, request: JsonAnswer, status: 200 | 201 | 206, body: string): Response {
  if (!request.stripNulls) return respond(c, request, status, body, JSON_TYPE);
  // Through parseJson and back: a bigint or numeric is answered as PostgreSQL wrote it.
  return respond(c, request, status, stringifyJson(stripNulls(parseJson(body))), strippedContentType(false));
}

/** Answers the one row of a JSON array body as an object (the caller checked there is one). */
function respondSingle(c: Context, request: JsonAnswer, status: 200 | 201, body: string): Response {
  // Through parseJson and back: a bigint or numeric in the row is answered as PostgreSQL wrote it.
  const [only] = parseJson(body) as unknown[];
  if (request.stripNulls)
    return respond(c, request, status, stringifyJson(stripNulls(only)), strippedContentType(true));
  return respond(c, request, status, stringifyJson(only), `${SINGLE}; charset=utf-8`);
}

/** PostgREST's `Location: /table?id=eq.7` for the first inserted row (a NULL key part reads `is.null`). */
function locationOf(table: string, key: readonly string[], values: readonly (string | null)[]): string {
  const filters = key.map((k, i) => {
    const v = values[i] ?? null;
    return `${encodeURIComponent(k)}=${v === null ? 'is.null' : `eq.${encodeURIComponent(v)}`}`;
  });
  return `/${encodeURIComponent(table)}?${filters.join('&')}`;
}
