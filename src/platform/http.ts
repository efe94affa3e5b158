/**
 * Cross-cutting HTTP: a request id on every request, one log line and one metrics sample per
 * response, and the one place where errors become responses.
 */
import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, ErrorHandler, MiddlewareHandler, NotFoundHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { classifyOutage, type DatabaseOutage } from '../db/index.js';
import { ApiError } from '../errors.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { refusedText } from './refused-text.js';
import { reportError } from './error-reports.js';
import { currentTraceId, endRequestSpan, startRequestSpan, withContext } from './tracing.js';

export interface HttpEnv {
  Variables: { log: Logger; requestId: string };
}

/**
 * A request header (name in lower case). Served by @hono/node-server, it is read from Node's
 * IncomingMessage: `c.req.header()` first builds a WHATWG Headers of every header, which showed in
 * profiles of the hot path.
 */
export function headerOf(c: Context, name: string): string | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming) return c.req.header(name);
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestContext(log: Logger, metrics: Metrics): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const started = process.hrtime.bigint();
    const given = headerOf(c, 'x-request-id');
    const requestId = given && SAFE_REQUEST_ID.test(given) ? given : crypto.randomUUID();
    c.set('requestId', requestId);
    c.set('log', log);
    // Set before the handler builds its response: a header added to a finished response makes
    // @hono/node-server materialise a full WHATWG Response (a stream and all) for every request.
    c.header('x-request-id', requestId);
    // The request's span (a child of the caller's traceparent), active while the handler runs.
    const traced = startRequestSpan(c.req.method, (name) => headerOf(c, name));
    await withContext(traced.context, next);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const route = routeOf(c);
    endRequestSpan(traced.span, c.req.method, route, c.res.status);
    const traceId = currentTraceId(traced.span);
    metrics.observeRequest(c.req.method, route, c.res.status, seconds);
    // What Studio's request log keeps and the log line says, once.
    const entry = {
      reqId: requestId,
      method: c.req.method,
      route,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round(seconds * 1e4) / 10,
    };
    metrics.recent.add({ at: Date.now(), ...entry });
    if (log.isLevelEnabled('info')) log.info(traceId ? { ...entry, traceId } : entry, 'request');
  };
}

/** Response headers a browser app may read (Supabase's gateway exposes these). */
const EXPOSED =
  'content-range, content-profile, content-location, location, preference-applied, range, x-request-id, etag, last-modified, content-length, x-upsert, ratelimit-limit, ratelimit-remaining, ratelimit-reset, ratelimit-policy, retry-after, x-trellis-lsn';
const METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/**
 * CORS as Supabase's API gateway answers it: any origin (access is decided by the apikey and the
 * JWT, which a browser sends as headers, never as cookies), any request header, a day of preflight
 * caching. A request without an Origin (servers, scripts) is left untouched.
 */
export const cors: MiddlewareHandler = async (c, next) => {
  const origin = headerOf(c, 'origin');
  if (origin === undefined) return next();
  const asked = headerOf(c, 'access-control-request-method');
  if (c.req.method === 'OPTIONS' && asked !== undefined) {
    const headers: Record<string, string> = {
      'access-control-allow-origin': '*',
      'access-control-allow-methods': METHODS,
      'access-control-max-age': '86400',
      vary: 'Access-Control-Request-Headers',
    };
    const requested = headerOf(c, 'access-control-request-headers');
    if (requested) headers['access-control-allow-headers'] = requested.slice(0, 4096);
    return c.body(null, 204, headers);
  }
  for (const [name, value] of Object.entries(corsHeaders(c))) c.header(name, value);
  return next();
};

/**
 * The CORS headers of an answer to `c` (none without an Origin): for a handler that writes on
 * Node's response itself (a streamed download), past the headers the middleware set on `c`.
 */
export function corsHeaders(c: Context): Record<string, string> {
  return headerOf(c, 'origin') === undefined
    ? {}
    : { 'access-control-allow-origin': '*', 'access-control-expose-headers': EXPOSED };
}

/** The route pattern that answered (`/rest/v1/:table`), never the raw path: metrics stay bounded. */
function routeOf(c: Context): string {
  // Wildcard entries are middleware (request context, auth), not the handler that answered.
  const handlers = matchedRoutes(c).filter((r) => !r.path.endsWith('*'));
  return handlers.at(-1)?.path ?? 'unmatched';
}

/** The code of errors Supabase's API gateway (Kong) would have answered before any service. */
export const GATEWAY_ERROR = 'gateway';

export const renderError: ErrorHandler<HttpEnv> = (err, c) => {
  // PostgreSQL refusing the request's text (NUL) is the client's 400, whichever module let it by.
  err = refusedText(err, c.req.path) ?? err;
  if (err instanceof ApiError) return renderApiError(c, err);
  const log = c.get('log') ?? console;
  if (clientGone(c)) {
    // The client hung up (a closed tab, a cancelled upload): nobody reads this answer, and it is
    // no bug. nginx's 499 "client closed request" keeps it apart in the metrics.
    log.info(
      { reqId: c.get('requestId'), reason: (err as { code?: string }).code ?? err.message },
      'request aborted by the client',
    );
    return c.body(null, 499 as ContentfulStatusCode);
  }
  const outage = classifyOutage(err);
  if (outage) {
    // Expected while the database is away: one line, no stack, never a connection object.
    log.warn(
      { reqId: c.get('requestId'), code: outage.sqlstate ?? outage.code, stage: outage.stage },
      `database ${outage.kind === 'timeout' ? 'timed out' : 'unavailable'}: ${outage.message}`,
    );
    return renderApiError(c, outageError(familyOf(c.req.path), outage));
  }
  log.error({ reqId: c.get('requestId'), err }, 'unhandled error');
  reportError(err, { requestId: c.get('requestId') ?? '', method: c.req.method, path: c.req.path });
  const bug = new ApiError(500, 'unexpected_failure', 'internal server error');
  return c.json(errorBody(c, bug), 500);
};

function renderApiError(c: Context<HttpEnv>, err: ApiError) {
  for (const [name, value] of Object.entries(err.extra.headers ?? {})) c.header(name, value);
  return c.json(errorBody(c, err), err.status as ContentfulStatusCode);
}

/** Whether the client closed its connection before the answer: its request or our response is destroyed. */
function clientGone(c: Context): boolean {
  const env = c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined;
  return env?.outgoing?.destroyed === true || (env?.incoming?.destroyed === true && !env.incoming.complete);
}

export type ApiFamily = 'rest' | 'auth' | 'storage' | 'realtime';

function familyOf(path: string): ApiFamily {
  if (path.startsWith('/auth/v1')) return 'auth';
  if (path.startsWith('/storage/v1')) return 'storage';
  if (path.startsWith('/rest/v1')) return 'rest';
  return 'realtime';
}

/** Seconds a client is asked to wait before retrying while the database is away. */
export const OUTAGE_RETRY_AFTER_SECONDS = 1;

/**
 * The one mapping of a database outage to each family's answer: 503 when the database is
 * unavailable, 504 when it did not answer in time, always with Retry-After (PostgREST sends it
 * with its 503s; supabase-js's auth client retries 502/503/504 by itself).
 * - rest, as PostgREST (src/PostgREST/Error.hs): cannot connect → PGRST000 "Database connection
 *   error."; a connection lost or silent mid-request → PGRST001 "Database client error. Retrying the
 *   connection."; no free pooled connection in time → 504 PGRST003; PostgreSQL's own SQLSTATE
 *   (08xxx, 53xxx, 57P01, 57P03) with its message; a statement timeout (57014) → 504, where
 *   PostgREST answers 500 (see docs/reliability.md).
 * - auth, as GoTrue: a timeout → 504 `request_timeout` (its timeout middleware); unavailable →
 *   503 `unexpected_failure` (GoTrue has no code of its own for it).
 * - storage, as storage-api: a timeout → `DatabaseTimeout` (statusCode "544" in the body, as
 *   storage-api; HTTP 504, not storage-api's nonstandard 544); unavailable → `DatabaseError`, 503.
 * - realtime's HTTP API: its snake_case codes.
 */
export function outageError(family: ApiFamily, outage: DatabaseOutage): ApiError {
  const timeout = outage.kind === 'timeout';
  const headers = { 'retry-after': String(OUTAGE_RETRY_AFTER_SECONDS) };
  if (family === 'rest') {
    if (outage.sqlstate) return new ApiError(timeout ? 504 : 503, outage.sqlstate, outage.message, { headers });
    if (outage.stage === 'pool_wait')
      return new ApiError(504, 'PGRST003', 'Timed out acquiring connection from connection pool.', { headers });
    if (outage.stage === 'connect')
      return new ApiError(503, 'PGRST000', 'Database connection error.', { details: outage.message, headers });
    return new ApiError(503, 'PGRST001', 'Database client error. Retrying the connection.', {
      details: outage.message,
      headers,
    });
  }
  if (family === 'auth') {
    return timeout
      ? new ApiError(504, 'request_timeout', 'Processing this request timed out, please retry after a moment.', {
          headers,
        })
      : new ApiError(503, 'unexpected_failure', 'The database is unavailable, please retry after a moment.', {
          headers,
        });
  }
  if (family === 'storage') {
    return timeout
      ? new ApiError(504, 'DatabaseTimeout', 'The connection to the database timed out', {
          fields: { statusCode: '544', code: 'DatabaseTimeout' },
          headers,
        })
      : new ApiError(503, 'DatabaseError', 'The database is unavailable, please retry after a moment', {
          fields: { statusCode: '503', code: 'DatabaseError' },
          headers,
        });
  }
  return timeout
    ? new ApiError(504, 'database_timeout', 'The database did not answer in time, please retry after a moment', {
        headers,
      })
    : new ApiError(503, 'database_unavailable', 'The database is unavailable, please retry after a moment', {
        headers,
      });
}

/** The body each Supabase service sends for an error. */
function errorBody(c: Context, err: ApiError): Record<string, unknown> {
  const path = c.req.path;
  // The API gateway's own errors (missing or invalid apikey) look the same on every path.
  if (err.code === GATEWAY_ERROR) return { message: err.message, hint: err.extra.hint ?? null };
  if (path.startsWith('/auth/v1')) {
    // GoTrue answers clients that send X-Supabase-Api-Version >= 2024-01-01 (auth-js does) with
    // {code, message}; older clients get {code: status, error_code, msg}.
    c.header('x-supabase-api-version', '2024-01-01');
    const versioned = (headerOf(c, 'x-supabase-api-version') ?? '') >= '2024-01-01';
    const base = versioned
      ? { code: err.code, message: err.message }
      : { code: err.status, error_code: err.code, msg: err.message };
    return { ...base, ...err.extra.fields };
  }
  // Supabase's edge runtime and its gateway answer { code, message } (supabase-js's FunctionsHttpError reads it).
  if (path.startsWith('/functions/v1')) return { code: err.code, message: err.message, ...err.extra.fields };
  if (path.startsWith('/storage/v1')) {
    return { statusCode: String(err.status), error: err.code, message: err.message, ...err.extra.fields };
  }
  return {
    code: err.code,
    message: err.message,
    details: err.extra.details ?? null,
    hint: err.extra.hint ?? null,
    ...err.extra.fields,
  };
}

// The body Supabase's API gateway sends for a path no service serves.
export const renderNotFound: NotFoundHandler<HttpEnv> = (c) =>
  c.json({ message: 'no Route matched with those values' }, 404);
