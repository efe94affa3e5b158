/**
 * The connection pool and the one function every module uses to touch user data: `withClaims`,
 * which runs a callback in a transaction as the request's role with its JWT claims set, so that
 * PostgreSQL's row-level security decides what the request sees.
 */
import crypto from 'node:crypto';
import pg from 'pg';
import type { Config } from '../config.js';
import { ApiError, FatalError } from '../errors.js';

export type Claims = Readonly<{ role: string } & Record<string, unknown>>;

/** The roles a request may run as (PostgREST lets a JWT name any role the authenticator can become). */
export const API_ROLES: ReadonlySet<string> = new Set(['anon', 'authenticated', 'service_role']);

/** What a callback may do inside a transaction. */
export interface Tx {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface PoolStats {
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
}

export interface Db extends Tx {
  /** Runs `fn` in one transaction as `claims.role`, with `request.jwt.claims` set to `claims`. */
  withClaims<T>(claims: Claims, fn: (tx: Tx) => Promise<T>, options?: { readOnly?: boolean }): Promise<T>;
  /** One statement as `claims`, in one round trip: withClaims for a callback that runs one query. */
  queryAs<R extends pg.QueryResultRow = pg.QueryResultRow>(claims: Claims, text: string, values: unknown[], options?: { readOnly?: boolean }): Promise<pg.QueryResult<R>>;
  /** Runs `fn` in one transaction as the server's own role (auth bookkeeping, not user data). */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Runs `fn` on one dedicated connection (migrations, advisory locks); `discard` closes it after. */
  withConnection<T>(fn: (client: pg.PoolClient) => Promise<T>, options?: { discard?: boolean }): Promise<T>;
  stats(): PoolStats;
  /** The same database, with requests (withClaims) on connections that log in at `url`. */
  forRequests(url: string): Db;
  /**
   * LISTENs on `channel` on a connection of its own, reconnecting after failures; `onNotify` gets
   * each payload (and '' after a reconnect, since notifications may have been missed meanwhile).
   */
  listen(channel: string, onNotify: (payload: string) => void): void;
  close(): Promise<void>;
}

export type PoolOptions = Config['pool'] & { readonly url: string; readonly onIdleError: (err: Error) => void };

export function createDb(options: PoolOptions): Db {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max,
    idleTimeoutMillis: options.idleTimeoutMs,
    connectionTimeoutMillis: options.connectTimeoutMs,
    application_name: 'trellis',
    // Queries are written without waiting for the previous answer: withClaims sends BEGIN, the
    // claims and the first statement in one round trip (see `corked`).
    pipeline: true,
  });
  // A connection that dies while idle (server restart, network) must not crash the process.
  pool.on('error', options.onIdleError);
  const listeners: (() => Promise<void>)[] = [];

  const withConnection = async <T>(fn: (client: pg.PoolClient) => Promise<T>, opts: { discard?: boolean } = {}): Promise<T> => {
    const client = await pool.connect();
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
    query: (text, values) => pool.query(text, values),
    withConnection,
    withClaims: (claims, fn, txOptions = {}) => {
      const refused = refuseRole(claims);
      if (refused) return Promise.reject(refused);
      return inTransaction(pool, beginFor(txOptions), setClaims(claims, options), (send) =>
        // The extended protocol runs exactly one statement: whatever text a request leads to, it
        // cannot smuggle a second command in.
        fn({ query: (text, values) => send(extended(text, values, options.preparedStatements)) as never }),
      );
    },
    queryAs: async <R extends pg.QueryResultRow>(claims: Claims, text: string, values: unknown[], txOptions: { readOnly?: boolean } = {}) => {
      const refused = refuseRole(claims);
      if (refused) throw refused;
      const client = await pool.connect();
      // One write, one round trip: BEGIN, the claims, the statement and COMMIT, each with its own
      // Sync. A failed statement aborts the transaction, and its COMMIT then rolls back; all four
      // answers are awaited, so the connection goes back idle.
      const settled = await corked(client, () =>
        Promise.allSettled([
          client.query(beginFor(txOptions)),
          client.query(setClaims(claims, options)),
          client.query(extended(text, values, options.preparedStatements)),
          client.query('commit'),
        ]),
      );
      const idle = client.getTransactionStatus() === 'I';
      client.release(!idle);
      const failed = settled.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      return (settled[2] as PromiseFulfilledResult<pg.QueryResult<R>>).value;
    },
    transaction: (fn) =>
      inTransaction(pool, 'begin', `set local statement_timeout = ${options.statementTimeoutMs}`, (send) => fn({ query: (text, values) => send(text, values) as never })),
    stats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    listen: (channel, onNotify) => listeners.push(listenForever(options, channel, onNotify)),
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
        withClaims: requests.withClaims,
        queryAs: requests.queryAs,
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

function listenForever(options: PoolOptions, channel: string, onNotify: (payload: string) => void): () => Promise<void> {
  let stopped = false;
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  const connect = async () => {
    if (stopped) return;
    const next = new pg.Client({ connectionString: options.url, connectionTimeoutMillis: options.connectTimeoutMs, application_name: 'trellis-listen' });
    next.on('error', () => undefined);
    next.on('end', () => {
      if (!stopped) timer = setTimeout(() => void connect(), 1000);
    });
    next.on('notification', (n) => n.channel === channel && onNotify(n.payload ?? ''));
    try {
      await next.connect();
      await next.query(`listen ${pgIdent(channel)}`);
      client = next;
      onNotify('');
    } catch (err) {
      options.onIdleError(err instanceof Error ? err : new Error(String(err)));
      await next.end().catch(() => undefined);
    }
  };
  void connect();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await client?.end().catch(() => undefined);
  };
}

/** pg's `queryMode` (not in @types/pg yet): force the extended protocol even without values. */
/**
 * Requests repeat a small set of statement shapes ("latest 50 messages of room $1"). Naming them
 * lets each connection parse a shape once and PostgreSQL reuse its plan. A shape is named on its
 * second use, so one-off shapes never take a name, and at most MAX_PREPARED are named per
 * generation: the bound on what each connection's prepared statements hold.
 */
const seenShapes = new Map<string, string | null>();
const MAX_PREPARED = 100;
let generation = 0;
let named = 0;

/**
 * After a schema change: name statements afresh. (PostgreSQL replans prepared statements when a
 * table they read changes, but not one whose row type a function returns: a cached plan would keep
 * the old row type.) Connections drop the old ones as they retire.
 */
export function forgetPreparedStatements(): void {
  generation++;
  named = 0;
  seenShapes.clear();
}

function extended(text: string, values: unknown[] | undefined, prepare: boolean): pg.QueryConfig {
  let name: string | undefined;
  if (prepare) {
    const seen = seenShapes.get(text);
    if (typeof seen === 'string') {
      name = seen;
    } else if (seen === null && named < MAX_PREPARED) {
      name = `trellis_${generation}_${crypto.createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
      seenShapes.set(text, name);
      named++;
    } else if (seen === undefined && seenShapes.size < MAX_PREPARED * 4) {
      seenShapes.set(text, null); // once seen; named if it comes again
    }
  }
  return { text, values, queryMode: 'extended', ...(name !== undefined && { name }) } as pg.QueryConfig;
}

/** Quotes an identifier (the change feed builds its lookups with it too). */
export const pgIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Read-only is part of BEGIN, not a statement of its own. */
const beginFor = (txOptions: { readOnly?: boolean }) => (txOptions.readOnly ? 'begin read only' : 'begin');

/** A request may only be one of the API roles: the server's login role can become any role. */
function refuseRole(claims: Claims): ApiError | undefined {
  return API_ROLES.has(claims.role) ? undefined : new ApiError(401, 'PGRST301', `role "${String(claims.role).slice(0, 64)}" is not an API role`);
}

/**
 * set_config(..., true) is SET LOCAL with parameters: the role name is never spliced into SQL. The
 * statement timeout is set here, not at connect, because PgBouncer refuses it as a startup
 * parameter. A named statement: parsed once per connection, as it runs before every request.
 */
function setClaims(claims: Claims, options: PoolOptions): pg.QueryConfig {
  return {
    ...(options.preparedStatements && { name: 'trellis_set_claims' }),
    text: "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true), set_config('statement_timeout', $3, true)",
    values: [claims.role, JSON.stringify(claims), String(options.statementTimeoutMs)],
  };
}

/**
 * Runs `send` with the connection's socket corked: the pipelined queries it issues in this tick
 * (pg writes each protocol message on its own) leave in one write. On this class of machine a
 * write system call costs more than parsing a query; profiles of the data API showed them first.
 */
function corked<T>(client: pg.PoolClient, send: () => Promise<T>): Promise<T> {
  const socket = (client as unknown as { connection: { stream: { cork(): void; uncork(): void } } }).connection.stream;
  socket.cork();
  try {
    return send();
  } finally {
    socket.uncork();
  }
}

type Send = (query: string | pg.QueryConfig, values?: unknown[]) => Promise<pg.QueryResult>;

/**
 * BEGIN, then `setup` (a statement of its own, its values parameters), then the first statement of
 * `fn`, all in one round trip; COMMIT after. If `setup` fails, the transaction is aborted and so
 * is every statement after it: `fn` never runs anything outside the claims. `fn` sends through a
 * guard that refuses once the transaction is over, so a callback still running after a failure
 * cannot reach the connection after it went back to the pool.
 */
async function inTransaction<T>(pool: pg.Pool, begin: string, setup: string | pg.QueryConfig, fn: (send: Send) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let open = true;
  const send: Send = (query, values) =>
    open ? client.query(query as pg.QueryConfig, values) : Promise.reject(new Error('a query after the end of its transaction'));
  const settled = await corked(client, () => {
    const begun = client.query(begin);
    const set = client.query(setup);
    let work: Promise<T>;
    try {
      work = fn(send);
    } catch (err) {
      work = Promise.reject(err);
    }
    // Every step is awaited, the callback included, before the connection is committed or rolled back.
    return Promise.allSettled([begun, set, work]);
  });
  let failure = settled.find((r) => r.status === 'rejected');
  if (!failure) {
    try {
      await client.query('commit');
      open = false;
      client.release();
      return (settled[2] as PromiseFulfilledResult<T>).value;
    } catch (err) {
      failure = { status: 'rejected', reason: err };
    }
  }
  open = false;
  // A failed statement is the caller's error; only a connection that cannot roll back is dropped.
  const reusable = await client.query('rollback').then(
    () => true,
    () => false,
  );
  client.release(!reusable);
  throw failure.reason;
}

/** Checks that the server answers, turning a failure into one line that names the setting. */
export async function checkConnection(db: Db, setting: string, displayUrl: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  // A start must end within 10 s when the server is unreachable, whatever DB_CONNECT_TIMEOUT_MS says.
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), 8000);
  });
  try {
    await Promise.race([db.query('select 1'), deadline]);
  } catch (err) {
    throw new FatalError(`cannot connect to ${displayUrl}: ${describeConnectError(err)}`, setting);
  } finally {
    clearTimeout(timer);
  }
}

export function describeConnectError(err: unknown): string {
  const e = err as { code?: string; message?: string; hostname?: string };
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'connection refused (is PostgreSQL running there?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host ${e.hostname ?? ''} not found`.replace('  ', ' ');
    case 'ETIMEDOUT':
      return 'timed out';
    default:
      if (err instanceof AggregateError) return describeConnectError(err.errors[0]);
      if (/timeout/i.test(e.message ?? '')) return 'timed out (DB_CONNECT_TIMEOUT_MS)';
      return e.message ?? String(err);
  }
}

/** A database URL with its password hidden, for logs and error lines. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '*****';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
