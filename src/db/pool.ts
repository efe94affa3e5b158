/**
 * The connection pool and the one function every module uses to touch user data: `withClaims`,
 * which runs a callback in a transaction as the request's role with its JWT claims set, so that
 * PostgreSQL's row-level security decides what the request sees.
 */
import pg from 'pg';
import type { Config } from '../config.js';
import { asClaims, bounded, inTransaction, type AsClaims, type Tx } from './claims.js';
import { listenForever } from './listen.js';
import { extended } from './prepared.js';
import { asOutage } from './outage.js';
import { parseJson } from '../platform/json.js';
import { inSqlSpan } from '../platform/tracing.js';
import type { ReplicaStatus } from './replica-status.js';

export interface PoolStats {
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
}

/**
 * `withClaims` runs `fn` in one transaction as `claims.role`, with `request.jwt.claims` set to
 * `claims`; `queryAs` is withClaims for one statement, in one round trip.
 */
export interface Db extends Tx, AsClaims {
  /** Runs `fn` in one transaction as the server's own role (auth bookkeeping, not user data). */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Runs `fn` on one dedicated connection (migrations, advisory locks); `discard` closes it after. */
  withConnection<T>(fn: (client: pg.PoolClient) => Promise<T>, options?: { discard?: boolean }): Promise<T>;
  stats(): PoolStats;
  /** The read replicas (DATABASE_READ_URL) and how each is doing; absent without any. */
  replicaStatus?(): readonly ReplicaStatus[];
  /** The same database, with requests (withClaims) on connections that log in at `url`. */
  forRequests(url: string): Db;
  /**
   * LISTENs on `channel` on a connection of its own, reconnecting after failures; `onNotify` gets
   * each payload (and '' after a reconnect, since notifications may have been missed meanwhile).
   */
  listen(channel: string, onNotify: (payload: string) => void): void;
  close(): Promise<void>;
}

// json and jsonb columns are parsed keeping every number as stored (platform/json.ts): a bigint or
// a numeric scale in a jsonb value survives the round trip through the server.
const JSON_OIDS = new Set([114, 3802]);
// A json (not jsonb) value may hold a duplicate key, which the lossless path refuses: it then reads
// as JSON.parse reads it (the last key wins) rather than failing the query.
const parseStoredJson = (text: string): unknown => {
  try {
    return parseJson(text);
  } catch {
    return JSON.parse(text) as unknown;
  }
};
const jsonTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown =>
    format !== 'binary' && JSON_OIDS.has(oid)
      ? parseStoredJson
      : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

export type PoolOptions = Omit<Config['pool'], 'queryTimeoutMs'> & {
  readonly url: string;
  readonly onIdleError: (err: Error) => void;
  /** The client-side deadline of each statement; none when absent (tools, benchmarks). */
  readonly queryTimeoutMs?: number;
};

/**
 * TCP keepalive on every connection: a peer that vanished (a black-holed network, a host gone)
 * is noticed by the kernel instead of holding the socket open forever. A frozen server on a live
 * host still answers the probes; the query deadline (DB_QUERY_TIMEOUT_MS) covers that.
 */
export const KEEPALIVE_INITIAL_DELAY_MS = 10_000;

export function createDb(given: PoolOptions): Db {
  const options = { ...given, queryTimeoutMs: given.queryTimeoutMs ?? 0 };
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max,
    idleTimeoutMillis: options.idleTimeoutMs,
    // Bounds both opening a connection and waiting for a free one when all are in use (pg-pool's
    // queue), so a request never waits for the pool longer than this.
    connectionTimeoutMillis: options.connectTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_INITIAL_DELAY_MS,
    application_name: 'trellis',
    // Queries are written without waiting for the previous answer: withClaims sends BEGIN, the
    // claims and the first statement in one round trip (see `corked`).
    pipeline: true,
    types: jsonTypes,
  });
  // A connection that dies while idle (server restart, network) must not crash the process.
  pool.on('error', options.onIdleError);
  // Nor one that dies while checked out (the query deadline destroys its socket, the server goes
  // away mid-request): pg-pool listens only on idle connections, and an 'error' nobody listens to
  // is thrown. The request learns of it from its query's rejection.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const listeners: (() => Promise<void>)[] = [];

  // Migrations and advisory locks are not bounded by the query deadline (they may run long, as
  // statement_timeout does not limit them either); only the wait for their connection is.
  const withConnection = async <T>(
    fn: (client: pg.PoolClient) => Promise<T>,
    opts: { discard?: boolean } = {},
  ): Promise<T> => {
    const client = await pool.connect().catch((err: unknown) => {
      throw asOutage(err);
    });
    try {
      const result = await fn(client);
      client.release(opts.discard === true);
      return result;
    } catch (err) {
      // A connection in an unknown state (aborted transaction, lost socket) is not reused.
      client.release(err instanceof Error ? err : true);
      throw err;
    }
  };

  const db: Db = {
    // A statement with parameters goes by the extended protocol anyway; naming its shape lets each
    // connection parse and plan it once (auth's statements, run on every grant, are the same few).
    query: (text, values) =>
      inSqlSpan(text, () =>
        pool
          .query(
            bounded(
              values === undefined ? text : extended(text, values, options.preparedStatements),
              undefined,
              options.queryTimeoutMs,
            ),
          )
          .catch((err: unknown) => {
            throw asOutage(err);
          }),
      ) as never,
    withConnection,
    ...asClaims(pool, options),
    transaction: (fn) =>
      inTransaction(
        pool,
        options.queryTimeoutMs,
        'begin',
        `set local statement_timeout = ${options.statementTimeoutMs}`,
        // Named as `query` names them: a sign-in's statements are the same few on every sign-in.
        (send) =>
          fn({
            query: (text, values) =>
              send(values === undefined ? text : extended(text, values, options.preparedStatements)) as never,
          }),
      ),
    stats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    listen: (channel, onNotify) =>
      listeners.push(
        listenForever(
          {
            url: options.url,
            connectTimeoutMs: options.connectTimeoutMs,
            keepAliveInitialDelayMs: KEEPALIVE_INITIAL_DELAY_MS,
            onError: options.onIdleError,
          },
          channel,
          onNotify,
        ),
      ),
    close: async () => {
      await Promise.all(listeners.map((stop) => stop()));
      await pool.end();
    },
    forRequests(url) {
      // DB_POOL_MAX is shared between the two logins, not doubled: half (rounded up) stays with the
      // server login (auth, bookkeeping), the rest serves requests. pg-pool reads `max` per connect.
      const own = Math.ceil(options.max / 2);
      (pool as unknown as { options: { max: number } }).options.max = own;
      const requests = createDb({ ...options, url, max: Math.max(1, options.max - own) });
      return {
        ...db,
        withClaims: (claims, fn, txOptions) => requests.withClaims(claims, fn, txOptions),
        queryAs: (claims, text, values, txOptions) => requests.queryAs(claims, text, values, txOptions),
        stats: () => {
          const [a, b] = [db.stats(), requests.stats()];
          return { total: a.total + b.total, idle: a.idle + b.idle, waiting: a.waiting + b.waiting };
        },
        close: async () => {
          await requests.close();
          await db.close();
        },
      };
    },
  };
  return db;
}
