/**
 * The one classification of "the database is unavailable or did not answer in time". Every error
 * that leaves the pool (a connect, a statement, a transaction) goes through `asOutage`: a refused
 * or lost connection, a pool that had no free connection in time, the client-side deadline, or a
 * SQLSTATE PostgreSQL sends when it cannot serve (shutting down, starting, out of connections, a
 * statement timeout) becomes a `DatabaseOutage`, which the HTTP error handler answers with 503/504
 * and Retry-After in each API family's shape (src/platform/http.ts). Anything else passes through.
 */

export type OutageKind = 'unavailable' | 'timeout';

/**
 * What failed: opening a connection; a connection in the middle of a request; waiting for a free
 * connection of the pool; the client-side deadline (DB_QUERY_TIMEOUT_MS); or PostgreSQL itself,
 * which answered with the SQLSTATE in `sqlstate`.
 */
export type OutageStage = 'connect' | 'connection' | 'pool_wait' | 'deadline' | 'server';

export class DatabaseOutage extends Error {
  /** Never a five-character SQLSTATE: the modules' PostgreSQL error mappers leave it alone. */
  readonly code: string;
  constructor(
    readonly kind: OutageKind,
    readonly stage: OutageStage,
    /** One line: PostgreSQL's message, or what the client saw (never a stack, a URL or a connection object). */
    message: string,
    /** The SQLSTATE when PostgreSQL sent one. */
    readonly sqlstate?: string,
    /** What node-postgres or the socket threw (Error's own `cause`). */
    original?: unknown,
  ) {
    super(message, { cause: original });
    this.name = 'DatabaseOutage';
    this.code = kind === 'timeout' ? 'DATABASE_TIMEOUT' : 'DATABASE_UNAVAILABLE';
  }
}

/** Socket errors of a connection that could not be opened. */
const CONNECT_ERRNOS = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EADDRNOTAVAIL',
]);
/** Socket errors of a connection lost while in use. */
const LOST_ERRNOS = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED']);

/**
 * node-postgres reports these conditions by message only (no code). Matched exactly, from pg 8 /
 * pg-pool 3: client.js (connect timeout, read timeout, termination) and pg-pool's queue timeout.
 */
const PG_MESSAGES: readonly [RegExp, OutageKind, OutageStage][] = [
  [/^timeout exceeded when trying to connect$/, 'timeout', 'pool_wait'],
  [/^Connection terminated due to connection timeout$/, 'timeout', 'connect'],
  [/^Query read timeout$/, 'timeout', 'deadline'],
  [/^Connection terminated( unexpectedly)?$/, 'unavailable', 'connection'],
  [/is not queryable$/, 'unavailable', 'connection'],
];

/**
 * SQLSTATEs that mean "not now" rather than "not this request", as PostgREST sorts them
 * (src/PostgREST/Error.hs, mapSQLtoHTTP): 08 connection exceptions, 53 insufficient resources but
 * 53400 (a configured limit, the request's own doing), 57P01 admin shutdown; also 57P02 crash
 * shutdown and 57P03 cannot connect now (the server is starting or stopping), which PostgREST
 * meets only while connecting. 57014 is a statement cancelled by DB_STATEMENT_TIMEOUT_MS.
 */
function sqlstateOutage(code: string): OutageKind | undefined {
  if (code === '57014') return 'timeout';
  if (code === '57P01' || code === '57P02' || code === '57P03') return 'unavailable';
  if (code.startsWith('08')) return 'unavailable';
  if (code.startsWith('53') && code !== '53400') return 'unavailable';
  return undefined;
}

/** What `err` means as an outage, or undefined when it is not one (a request's own error, a bug). */
export function classifyOutage(err: unknown): DatabaseOutage | undefined {
  if (err instanceof DatabaseOutage) return err;
  if (err instanceof AggregateError && err.errors.length > 0) return classifyOutage(err.errors[0]);
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (/^[0-9A-Z]{5}$/.test(code)) {
      const kind = sqlstateOutage(code);
      return kind && new DatabaseOutage(kind, 'server', err.message, code, err);
    }
    if (CONNECT_ERRNOS.has(code))
      return new DatabaseOutage('unavailable', 'connect', `${code}: ${err.message}`, undefined, err);
    if (LOST_ERRNOS.has(code))
      return new DatabaseOutage('unavailable', 'connection', `${code}: ${err.message}`, undefined, err);
  }
  for (const [pattern, kind, cause] of PG_MESSAGES) {
    if (pattern.test(err.message)) return new DatabaseOutage(kind, cause, err.message, undefined, err);
  }
  return undefined;
}

/** `err` as a DatabaseOutage when it is one, else `err` itself: for `catch (err) { throw asOutage(err) }`. */
export function asOutage(err: unknown): unknown {
  return classifyOutage(err) ?? err;
}

/** The one-line description of a failed connection for a log: code and message, nothing else. */
export function describeDbError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return describeDbError(err.errors[0]);
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${err.message}` : err.message || err.name;
}

/** An error PostgreSQL sent: it carries a five-character SQLSTATE (the modules map those to their shapes). */
export interface PgError extends Error {
  readonly code: string;
  readonly detail?: string;
  readonly hint?: string;
  readonly constraint?: string;
}

export function isPgError(err: unknown): err is PgError {
  const code = (err as { code?: unknown }).code;
  return err instanceof Error && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}
