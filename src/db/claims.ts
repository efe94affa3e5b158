/**
 * Claims and transactions: how a request's JWT becomes PostgreSQL's role and `request.jwt.claims`,
 * so row-level security decides what it sees, and how those transactions are sent in one write.
 */
import type pg from 'pg';
import { ApiError } from '../errors.js';
import { asOutage } from './outage.js';
import { extended } from './prepared.js';
import { stringifyJson } from '../platform/json.js';
import { inSqlSpan } from '../platform/tracing.js';
import { parseLsn, type Lsn } from './lsn.js';

export type Claims = Readonly<{ role: string } & Record<string, unknown>>;

/** The roles a request may run as (PostgREST lets a JWT name any role the authenticator can become). */
export const API_ROLES: ReadonlySet<string> = new Set(['anon', 'authenticated', 'service_role']);

/** What a callback may do inside a transaction. */
export interface Tx {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface ClaimsOptions {
  readonly statementTimeoutMs: number;
  /** The client-side deadline of each statement (0: none); see `bounded`. */
  readonly queryTimeoutMs: number;
  readonly preparedStatements: boolean;
}

/**
 * PostgREST's request settings, as JSON text where PostgREST sets JSON (`request.headers`,
 * `request.cookies`: objects keyed by lower-case name), read by functions and policies with
 * `current_setting('request.headers', true)::json->>'traceparent'`.
 */
export interface RequestGucs {
  readonly method: string;
  readonly path: string;
  readonly headers: string;
  readonly cookies: string;
  /** The request's schema, then the extra search path, each quoted: PostgREST's per-request search_path. */
  readonly searchPath: string;
  /** `trellis.client_ip`: the caller's address as Trellis reads it (TRUST_PROXY), '' when unknown. */
  readonly clientIp: string;
}

export type TxOptions = {
  readonly readOnly?: boolean;
  readonly gucs?: RequestGucs | undefined;
  /**
   * Called after COMMIT with the primary's WAL insert position, which is at or past the end of the
   * commit record: a replica that has replayed it sees the write (the read-your-writes fence).
   */
  readonly onCommitLsn?: ((lsn: Lsn) => void | Promise<void>) | undefined;
  /**
   * Read-only work a read replica may serve once it has replayed `fence` (replicas.ts); without
   * replicas, or when none is ready, the primary serves it.
   */
  readonly replica?: { readonly fence: Lsn | undefined } | undefined;
};

/** After COMMIT in the same write: the insert position is past every record committed so far. */
const COMMIT_LSN = 'select pg_current_wal_insert_lsn()::text as lsn';

/** Hands the LSN on; the request waits for it (the fence may be shared through Redis). */
async function reportLsn(result: pg.QueryResult | undefined, onCommitLsn: TxOptions['onCommitLsn']): Promise<void> {
  const text = (result?.rows[0] as { lsn?: unknown } | undefined)?.lsn;
  const lsn = typeof text === 'string' ? parseLsn(text) : undefined;
  if (onCommitLsn && lsn !== undefined) await onCommitLsn(lsn);
}

/** A request's two ways in: a callback in a transaction as `claims`, or one statement as `claims`. */
export interface AsClaims {
  withClaims<T>(claims: Claims, fn: (tx: Tx) => Promise<T>, options?: TxOptions): Promise<T>;
  queryAs<R extends pg.QueryResultRow = pg.QueryResultRow>(
    claims: Claims,
    text: string,
    values: unknown[],
    options?: TxOptions,
  ): Promise<pg.QueryResult<R>>;
}

export function asClaims(pool: pg.Pool, options: ClaimsOptions): AsClaims {
  return {
    withClaims: (claims, fn, txOptions = {}) => {
      const refused = refuseRole(claims);
      if (refused) return Promise.reject(refused);
      return inTransaction(
        pool,
        options.queryTimeoutMs,
        beginFor(txOptions),
        setClaims(claims, options, txOptions.gucs),
        (send) =>
          // The extended protocol runs exactly one statement: whatever text a request leads to, it
          // cannot smuggle a second command in.
          fn({ query: (text, values) => send(extended(text, values, options.preparedStatements)) as never }),
        txOptions.readOnly ? undefined : txOptions.onCommitLsn,
      );
    },
    queryAs: async <R extends pg.QueryResultRow>(
      claims: Claims,
      text: string,
      values: unknown[],
      txOptions: TxOptions = {},
    ) => {
      const refused = refuseRole(claims);
      if (refused) throw refused;
      const client = await connect(pool);
      const deadline = options.queryTimeoutMs;
      // One write, one round trip: BEGIN, the claims, the statement and COMMIT, each with its own
      // Sync. A failed statement aborts the transaction, and its COMMIT then rolls back; all four
      // answers are awaited, so the connection goes back idle.
      const withLsn = txOptions.onCommitLsn !== undefined && !txOptions.readOnly;
      const settled = await inSqlSpan(text, () =>
        corked(client, () =>
          Promise.allSettled([
            client.query(bounded(beginFor(txOptions), undefined, deadline)),
            client.query(bounded(setClaims(claims, options, txOptions.gucs), undefined, deadline)),
            client.query(bounded(extended(text, values, options.preparedStatements), undefined, deadline)),
            client.query(bounded('commit', undefined, deadline)),
            // Still the same write: the fence costs no round trip.
            ...(withLsn ? [client.query(bounded(COMMIT_LSN, undefined, deadline))] : []),
          ]),
        ),
      );
      const idle = client.getTransactionStatus() === 'I';
      client.release(!idle);
      // A write that committed is answered even if its fence could not be read (it then has none).
      const failed = settled.slice(0, 4).find((r) => r.status === 'rejected');
      if (failed) throw asOutage(failed.reason);
      const lsn = settled[4];
      if (lsn?.status === 'fulfilled') await reportLsn(lsn.value, txOptions.onCommitLsn);
      return (settled[2] as PromiseFulfilledResult<pg.QueryResult<R>>).value;
    },
  };
}

/** Read-only is part of BEGIN, not a statement of its own. */
const beginFor = (txOptions: TxOptions) => (txOptions.readOnly ? 'begin read only' : 'begin');

/** A request may only be one of the API roles: the server's login role can become any role. */
function refuseRole(claims: Claims): ApiError | undefined {
  return API_ROLES.has(claims.role)
    ? undefined
    : new ApiError(401, 'PGRST301', `role "${String(claims.role).slice(0, 64)}" is not an API role`);
}

/**
 * set_config(..., true) is SET LOCAL with parameters: the role name is never spliced into SQL. The
 * statement timeout is set here, not at connect, because PgBouncer refuses it as a startup
 * parameter. A named statement: parsed once per connection, as it runs before every request.
 */
function setClaims(claims: Claims, options: ClaimsOptions, gucs: RequestGucs | undefined): pg.QueryConfig {
  // The same one statement with the request settings: no extra round trip for /rest/v1.
  if (gucs)
    return {
      ...(options.preparedStatements && { name: 'trellis_set_claims_request' }),
      text: "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true), set_config('statement_timeout', $3, true), set_config('request.method', $4, true), set_config('request.path', $5, true), set_config('request.headers', $6, true), set_config('request.cookies', $7, true), set_config('search_path', $8, true), set_config('trellis.client_ip', $9, true)",
      values: [
        claims.role,
        stringifyJson(claims),
        String(options.statementTimeoutMs),
        gucs.method,
        gucs.path,
        gucs.headers,
        gucs.cookies,
        gucs.searchPath,
        gucs.clientIp,
      ],
    };
  return {
    ...(options.preparedStatements && { name: 'trellis_set_claims' }),
    text: "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true), set_config('statement_timeout', $3, true)",
    values: [claims.role, stringifyJson(claims), String(options.statementTimeoutMs)],
  };
}

/**
 * Runs `send` with the connection's socket corked: the pipelined queries it issues in this tick
 * (pg writes each protocol message on its own) leave in one write. On this class of machine a
 * write system call costs more than parsing a query; profiles of the data API showed them first.
 */
export function corked<T>(client: pg.PoolClient, send: () => Promise<T>): Promise<T> {
  const socket = (client as unknown as { connection: { stream: { cork(): void; uncork(): void } } }).connection.stream;
  socket.cork();
  try {
    return send();
  } finally {
    socket.uncork();
  }
}

export type Send = (query: string | pg.QueryConfig, values?: unknown[]) => Promise<pg.QueryResult>;

/**
 * `query` with the client-side deadline: PostgreSQL's statement_timeout cannot fire when the
 * server is frozen (SIGSTOP, a hung host) or the network drops every packet, so node-postgres
 * gives up after `deadlineMs` ("Query read timeout"). On a pipelined connection it destroys the
 * socket (pg 8.23, client.js), so the connection is never reused: its release sees it broken.
 */
export function bounded(
  query: string | pg.QueryConfig,
  values: unknown[] | undefined,
  deadlineMs: number,
): pg.QueryConfig {
  const config: pg.QueryConfig = typeof query === 'string' ? { text: query } : { ...query };
  if (values !== undefined) config.values = values;
  if (deadlineMs > 0) (config as { query_timeout?: number }).query_timeout = deadlineMs;
  return config;
}

/** A connection of the pool; a failure to get one (refused, the wait bounded by DB_CONNECT_TIMEOUT_MS) as an outage. */
function connect(pool: pg.Pool): Promise<pg.PoolClient> {
  return pool.connect().catch((err: unknown) => {
    throw asOutage(err);
  });
}

/**
 * BEGIN, then `setup` (a statement of its own, its values parameters), then the first statement of
 * `fn`, all in one round trip; COMMIT after. If `setup` fails, the transaction is aborted and so
 * is every statement after it: `fn` never runs anything outside the claims. `fn` sends through a
 * guard that refuses once the transaction is over, so a callback still running after a failure
 * cannot reach the connection after it went back to the pool.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  deadlineMs: number,
  begin: string,
  setup: string | pg.QueryConfig,
  fn: (send: Send) => Promise<T>,
  onCommitLsn?: TxOptions['onCommitLsn'],
): Promise<T> {
  const client = await connect(pool);
  let open = true;
  const send: Send = (query, values) =>
    open
      ? inSqlSpan(typeof query === 'string' ? query : query.text, () =>
          client.query(bounded(query, values, deadlineMs)),
        )
      : Promise.reject(new Error('a query after the end of its transaction'));
  const settled = await corked(client, () => {
    const begun = client.query(bounded(begin, undefined, deadlineMs));
    const set = client.query(bounded(setup, undefined, deadlineMs));
    // Called now, inside the cork; the async wrapper turns a synchronous throw into a rejection.
    const work = (async () => fn(send))();
    // Every step is awaited, the callback included, before the connection is committed or rolled back.
    return Promise.allSettled([begun, set, work]);
  });
  let failure = settled.find((r) => r.status === 'rejected');
  if (!failure) {
    try {
      const committed = client.query(bounded('commit', undefined, deadlineMs));
      // Pipelined behind COMMIT; its own failure must not reject unobserved.
      const lsn = onCommitLsn && client.query(bounded(COMMIT_LSN, undefined, deadlineMs)).catch(() => undefined);
      await committed;
      const committedLsn = lsn && (await lsn);
      open = false;
      client.release();
      // After the release: the connection does not wait for the fence store.
      if (committedLsn) await reportLsn(committedLsn, onCommitLsn);
      return (settled[2] as PromiseFulfilledResult<T>).value;
    } catch (err) {
      failure = { status: 'rejected', reason: err };
    }
  }
  open = false;
  // A failed statement is the caller's error; only a connection that cannot roll back is dropped.
  const reusable = await client.query(bounded('rollback', undefined, deadlineMs)).then(
    () => true,
    () => false,
  );
  client.release(!reusable);
  throw asOutage(failure.reason);
}
