/** /rest/v1: PostgREST's HTTP surface over the planner, run as the caller's role under RLS. */
import { headerOf } from '../platform/http.js';
import type { Context } from 'hono';
import { Hono } from 'hono';
import { ApiError } from '../errors.js';
import type { Claims, Tx } from '../db/index.js';
import { limitBody } from '../platform/body.js';
import { requireApiKey, type KeyEnv } from '../platform/keys.js';
import { bearerToken, describeProblem } from '../platform/tokens.js';
import type { Services } from '../services.js';
import { schemaCacheHolder, type SchemaCacheHolder } from './cache.js';
import { fromPgError, isPgError } from './errors.js';
import { parseReadQuery } from './parse.js';
import { planRead, type SqlPlan } from './plan-read.js';
import type { Relation, SchemaCache } from './schema.js';
import { parsePrefer, type Preferences } from './prefer.js';
import { rpc } from './rpc.js';
import { write } from './write.js';

export interface RestContext {
  readonly services: Services;
  readonly cache: SchemaCacheHolder;
}

export function restRoutes(services: Services): Hono<KeyEnv> {
  const ctx: RestContext = {
    services,
    cache: schemaCacheHolder(services.db, services.config.rest.schemas, services.log),
  };
  const app = new Hono<KeyEnv>();
  app.use('*', requireApiKey(services.tokens));
  app.use(
    '*',
    limitBody(ctx.services.config.rest.maxBodyBytes, () => {
      throw new ApiError(413, 'PGRST413', 'Payload Too Large', { headers: { connection: 'close' } });
    }),
  );
  app.on(['GET', 'HEAD'], '/:relation', (c) => read(ctx, c));
  app.post('/:relation', (c) => write(ctx, c, 'insert'));
  app.patch('/:relation', (c) => write(ctx, c, 'update'));
  app.delete('/:relation', (c) => write(ctx, c, 'delete'));
  app.on(['GET', 'HEAD', 'POST'], '/rpc/:fn', (c) => rpc(ctx, c));
  return app;
}

/** The JWT's claims (the user's access token, or the apikey's role when there is none). */
export async function requestClaims(ctx: RestContext, c: Context<KeyEnv>): Promise<Claims> {
  const check = await ctx.services.tokens.checkBearer(bearerToken(headerOf(c, 'authorization')), c.get('apikeyRole'));
  if (check.ok) return check.claims;
  const why = describeProblem(check.problem);
  if (check.problem.kind === 'not_api_role') throw new ApiError(401, 'PGRST301', why);
  throw new ApiError(401, 'PGRST301', check.problem.kind === 'expired' ? 'JWT expired' : `JWT invalid: ${why}`, {
    headers: { 'www-authenticate': `Bearer error="invalid_token", error_description="${why}"` },
  });
}

/** The schema a request addresses: Accept-Profile (reads) or Content-Profile (writes). */
export function requestSchema(ctx: RestContext, c: Context, header: 'accept-profile' | 'content-profile'): string {
  const schemas = ctx.services.config.rest.schemas;
  const asked = headerOf(c, header);
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

export interface ExecuteOptions<R> {
  readonly prefer?: Preferences;
  /** GET requests run read-only, as PostgREST runs them: a volatile function that writes fails. */
  readonly readOnly?: boolean;
  /** A write that answers its rows (return=representation): a body over the cap must roll it back. */
  readonly mayExceedCap?: boolean;
  /** Runs before COMMIT; throwing rolls the statement back (max-affected, single object). */
  readonly check?: (row: R) => void;
}

/** Runs a plan as the caller; PostgreSQL errors become PostgREST's responses. */
export async function execute<R extends Record<string, unknown>>(ctx: RestContext, claims: Claims, plan: SqlPlan, options: ExecuteOptions<R> = {}): Promise<R> {
  try {
    // PostgreSQL measures the body and sends it only under the cap: a request whose answer would
    // be hundreds of megabytes gets a 413, not a server that runs out of memory building it.
    const maxBytes = ctx.services.config.rest.maxResponseBytes;
    const capped = plan.capped
      ? plan
      : {
          text: `select case when octet_length(q.body) <= $${plan.values.length + 1} then q.body end as body, octet_length(q.body) as bytes, q.page, q.total from (${plan.text}) as q`,
          values: [...plan.values, maxBytes],
        };
    const checked = (row: R & { bytes: number | null }) => {
      if (row.body === null && row.bytes !== null) {
        throw new ApiError(413, '54000', `The response would be ${row.bytes} bytes, over the limit of ${maxBytes}`, {
          details: null,
          hint: 'Select fewer columns, filter, or page with limit/range (REST_MAX_RESPONSE_BYTES).',
        });
      }
      return row;
    };
    // Most requests are one statement with nothing to decide before COMMIT: one round trip. A write
    // whose body could exceed the cap is not among them, as its 413 must roll it back.
    if (!options.check && options.prefer?.tx !== 'rollback' && !plan.estimate && (options.readOnly || !options.mayExceedCap)) {
      const result = await ctx.services.db.queryAs<R & { bytes: number | null }>(claims, capped.text, capped.values, { readOnly: options.readOnly });
      return checked(result.rows[0] as R & { bytes: number | null });
    }
    return await ctx.services.db.withClaims(
      claims,
      async (tx) => {
        const row = checked((await tx.query<R & { bytes: number | null }>(capped.text, capped.values)).rows[0] as R & { bytes: number | null });
        if (plan.estimate && (row.total === null || Number(row.total) > ctx.services.config.rest.maxRows)) {
          (row as Record<string, unknown>).total = await plannedRows(tx, plan.estimate);
        }
        options.check?.(row);
        if (options.prefer?.tx === 'rollback') throw new RollbackRequested(row);
        return row;
      },
      { readOnly: options.readOnly },
    );
  } catch (err) {
    if (err instanceof RollbackRequested) return err.row as R;
    if (isPgError(err)) throw fromPgError(err, claims.role);
    throw err;
  }
}

/** count=planned: the planner's estimate of the rows, under the caller's role (RLS shapes the plan). */
async function plannedRows(tx: Tx, estimate: NonNullable<SqlPlan['estimate']>): Promise<string> {
  const result = await tx.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(`explain (format json) ${estimate.text}`, estimate.values);
  return String(Math.round(result.rows[0]?.['QUERY PLAN'][0].Plan['Plan Rows'] ?? 0));
}

class RollbackRequested extends Error {
  constructor(readonly row: unknown) {
    super('rollback requested');
  }
}

export interface ReadRow extends Record<string, unknown> {
  body: string;
  page: string;
  total: string | null;
}

/** `Range: 0-9` (items), as postgrest-js sends for `.range()`. */
export function rangeHeader(c: Context): { offset: number; limit?: number } | undefined {
  const header = headerOf(c, 'range');
  if (!header) return undefined;
  const match = /^(?:items=)?(\d+)-(\d*)$/.exec(header.trim());
  if (!match) throw new ApiError(416, 'PGRST103', 'Requested range not satisfiable', { details: `"${header.slice(0, 40)}" is not a range like 0-9` });
  const from = Number(match[1]);
  const to = match[2] === '' ? undefined : Number(match[2]);
  if (to !== undefined && to < from) throw new ApiError(416, 'PGRST103', 'Requested range not satisfiable', { details: 'The lower boundary must be lower than or equal to the upper boundary' });
  return { offset: from, limit: to === undefined ? undefined : to - from + 1 };
}

const SINGLE = 'application/vnd.pgrst.object+json';

/** `Accept: application/vnd.pgrst.object+json` (postgrest-js `.single()`, `.maybeSingle()`). */
export function wantsSingle(c: Context): boolean {
  return (headerOf(c, 'accept') ?? '').includes(SINGLE);
}

/** PostgREST's 406 when one object was asked for and `rows` came. */
export function notSingle(rows: number): ApiError {
  return new ApiError(406, 'PGRST116', 'JSON object requested, multiple (or no) rows returned', { details: `The result contains ${rows} rows`, hint: null });
}

/** Answers the one row of a JSON array body as an object (the caller checked there is one). */
export function respondSingle(c: Context, status: 200 | 201, body: string): Response {
  const [only] = JSON.parse(body) as unknown[];
  return respond(c, status, JSON.stringify(only), `${SINGLE}; charset=utf-8`);
}

async function read(ctx: RestContext, c: Context<KeyEnv>) {
  // The token first: without a valid one, nothing about the schema is revealed.
  const claims = await requestClaims(ctx, c);
  const cache = await ctx.cache.get();
  const relation = findRelation(cache, requestSchema(ctx, c, 'accept-profile'), c.req.param('relation') ?? '');
  const prefer = parsePrefer(headerOf(c, 'prefer'));
  let query = parseReadQuery(new URL(c.req.url).searchParams);
  const range = rangeHeader(c);
  if (range && !query.ranges.some((r) => r.path.length === 0)) {
    query = { ...query, ranges: [...query.ranges, { path: [], limit: range.limit, offset: range.offset }] };
  }
  const plan = planRead(cache, relation, query, { count: prefer.count, maxRows: ctx.services.config.rest.maxRows });
  const row = await execute<ReadRow>(ctx, claims, plan, { readOnly: true });
  const page = Number(row.page);
  const total = row.total === null ? undefined : Number(row.total);
  const offset = query.ranges.find((r) => r.path.length === 0)?.offset ?? 0;
  c.header('content-range', page === 0 ? `*/${total ?? '*'}` : `${offset}-${offset + page - 1}/${total ?? '*'}`);
  if (prefer.count) c.header('preference-applied', `count=${prefer.count}`);
  if (wantsSingle(c)) {
    if (page !== 1) throw notSingle(page);
    return respondSingle(c, 200, row.body);
  }
  const accept = headerOf(c, 'accept') ?? '';
  const partial = total !== undefined && page > 0 && (offset > 0 || offset + page < total);
  if (accept.startsWith('text/csv')) return respond(c, partial ? 206 : 200, toCsv(JSON.parse(row.body) as Record<string, unknown>[]), 'text/csv; charset=utf-8');
  return respond(c, partial ? 206 : 200, row.body, 'application/json; charset=utf-8');
}

export function respond(c: Context, status: 200 | 201 | 206, body: string, contentType: string): Response {
  c.header('content-type', contentType);
  return c.req.method === 'HEAD' ? c.body(null, status) : c.body(body, status);
}

/** `Accept: text/csv` (postgrest-js `.csv()`): a header line, then one line per row. */
export function toCsv(rows: readonly Record<string, unknown>[]): string {
  const keys = Object.keys(rows[0] ?? {});
  const cell = (v: unknown) => {
    if (v === null || v === undefined) return '';
    const text = typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return [keys.map(cell).join(','), ...rows.map((r) => keys.map((k) => cell(r[k])).join(','))].join('\n');
}
