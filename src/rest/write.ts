/** POST (insert/upsert), PATCH (update) and DELETE on a table or view. */
import { headerOf } from '../platform/http.js';
import type { Context } from 'hono';
import { ApiError } from '../errors.js';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from '../platform/body.js';
import type { KeyEnv } from '../platform/keys.js';
import { parseReadQuery } from './parse.js';
import { planDelete, planInsert, planUpdate, type WriteInput } from './plan-write.js';
import { parsePrefer } from './prefer.js';
import { execute, findRelation, notSingle, requestClaims, requestSchema, respond, respondSingle, wantsSingle, type ReadRow, type RestContext } from './routes.js';

/** A data API request body: JSON (empty is `{}`), nested at most MAX_JSON_DEPTH deep. */
export async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, 'PGRST102', 'Empty or invalid json', { details: (err as Error).message, hint: null });
  }
  if (jsonDepthExceeds(body)) throw new ApiError(400, 'PGRST102', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`, { details: null, hint: null });
  return body;
}

export async function write(ctx: RestContext, c: Context<KeyEnv>, kind: 'insert' | 'update' | 'delete') {
  // The token first: without a valid one, nothing about the schema is revealed.
  const claims = await requestClaims(ctx, c);
  const cache = await ctx.cache.get();
  const relation = findRelation(cache, requestSchema(ctx, c, 'content-profile'), c.req.param('relation') ?? '');
  const url = new URL(c.req.url);
  const prefer = parsePrefer(headerOf(c, 'prefer'));
  const query = parseReadQuery(url.searchParams);
  const single = wantsSingle(c);
  const representation = prefer.return === 'representation';
  const location = kind === 'insert' && prefer.return === 'headers-only';
  const input: WriteInput = { cache, relation, query, prefer, representation, location, maxRows: ctx.services.config.rest.maxRows, maxBytes: ctx.services.config.rest.maxResponseBytes };
  const body = kind === 'delete' ? undefined : await jsonBody(c);
  const plan =
    kind === 'insert'
      ? planInsert(input, body, url.searchParams.get('columns') ?? undefined, url.searchParams.get('on_conflict') ?? undefined)
      : kind === 'update'
        ? planUpdate(input, body)
        : planDelete(input);
  const strict = prefer.handling === 'strict' && prefer.maxAffected !== undefined;
  const row = await execute<ReadRow & { location: string | null }>(ctx, claims, plan, {
    prefer,
    mayExceedCap: representation,
    // Checked before COMMIT: a violation leaves the table as it was.
    check:
      strict || (single && representation)
        ? (r) => {
            const affected = Number(r.page);
            if (strict && affected > (prefer.maxAffected ?? Infinity)) {
              throw new ApiError(400, 'PGRST124', `Query result exceeds max-affected preference constraint`, { details: `The query affects ${affected} rows`, hint: null });
            }
            if (single && representation && affected !== 1) throw notSingle(affected);
          }
        : undefined,
  });
  const affected = Number(row.page);
  const applied = [
    prefer.return && `return=${prefer.return}`,
    prefer.resolution && `resolution=${prefer.resolution}`,
    prefer.missing && `missing=${prefer.missing}`,
    prefer.tx && `tx=${prefer.tx}`,
    prefer.maxAffected !== undefined && prefer.handling === 'strict' && `max-affected=${prefer.maxAffected}`,
  ].filter(Boolean);
  if (applied.length) c.header('preference-applied', applied.join(', '));
  c.header('content-range', kind === 'insert' ? `*/${affected}` : affected === 0 ? '*/*' : `0-${affected - 1}/*`);
  const status = kind === 'insert' ? 201 : 200;
  if (location && row.location !== null) c.header('location', locationOf(relation.name, relation.primaryKey, JSON.parse(row.location) as (string | null)[]));
  if (!representation) return c.body(null, kind === 'insert' ? 201 : 204);
  if (single) return respondSingle(c, status, row.body);
  return respond(c, status, row.body, 'application/json; charset=utf-8');
}

/** PostgREST's `Location: /table?id=eq.7` for the first inserted row (a NULL key part reads `is.null`). */
function locationOf(table: string, key: readonly string[], values: readonly (string | null)[]): string {
  const filters = key.map((k, i) => {
    const v = values[i] ?? null;
    return `${encodeURIComponent(k)}=${v === null ? 'is.null' : `eq.${encodeURIComponent(v)}`}`;
  });
  return `/${encodeURIComponent(table)}?${filters.join('&')}`;
}
