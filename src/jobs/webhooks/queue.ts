/**
 * The SQL of the sender, over net.http_request_queue and net._http_response (src/sql/0130–0132).
 * A claim leases rows to one instance (`for update skip locked`, then `claimed_until`), so two
 * instances never send one request at the same time; a lease that runs out (the instance died) lets
 * another take the row over.
 */
import type { Tx } from '../../db/index.js';
import type { NetRequest, SendOutcome } from './send.js';

export interface QueuedRequest extends NetRequest {
  readonly webhook: boolean;
  readonly messageId: string;
  /** Attempts made, this one included. */
  readonly attempts: number;
  /** An edge function of this server the request goes to (trellis.invoke_function), by name. */
  readonly functionName: string | null;
}

interface QueueRow {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer | null;
  timeout_milliseconds: number;
  webhook: boolean;
  message_id: string;
  attempts: number;
  function_name: string | null;
}

/** The state of the net schema: Trellis's, the real pg_net's, or none (migrations not applied). */
export async function netSchemaKind(db: Tx): Promise<'trellis' | 'pg_net' | 'missing'> {
  const { rows } = await db.query<{ pg_net: boolean; ours: boolean }>(
    `select exists (select 1 from pg_catalog.pg_extension where extname = 'pg_net') as pg_net,
            to_regprocedure('net._trellis_enqueue(text,text,jsonb,jsonb,bytea,integer,boolean)') is not null as ours`,
  );
  const row = rows[0];
  return row?.pg_net ? 'pg_net' : row?.ours ? 'trellis' : 'missing';
}

/** Leases up to `limit` due requests for their timeout plus `marginMs`, oldest first. */
export async function claimRequests(db: Tx, limit: number, marginMs: number): Promise<QueuedRequest[]> {
  const { rows } = await db.query<QueueRow>(
    `update net.http_request_queue q
        set claimed_until = now() + (q.timeout_milliseconds + $2::int) * interval '1 millisecond',
            attempts = q.attempts + 1
       from (select id from net.http_request_queue
              where not_before <= now() and (claimed_until is null or claimed_until < now())
              order by id limit $1 for update skip locked) due
      where q.id = due.id
  returning q.id, q.method, q.url, q.headers, q.body, q.timeout_milliseconds, q.webhook, q.message_id, q.attempts, q.function_name`,
    [limit, marginMs],
  );
  return rows.map((r) => ({
    id: r.id,
    method: r.method,
    url: r.url,
    headers: r.headers,
    body: r.body,
    timeoutMs: r.timeout_milliseconds,
    webhook: r.webhook,
    messageId: r.message_id,
    attempts: r.attempts,
    functionName: r.function_name,
  }));
}

export interface FinalOutcome {
  readonly id: string;
  readonly outcome: SendOutcome;
}

/**
 * Final outcomes, many in one statement: each queue row goes and its response is written, both only
 * if the row was still there (another instance that took an expired lease over may have finished it).
 */
export async function finishRequests(db: Tx, done: readonly FinalOutcome[]): Promise<void> {
  const column = <T>(pick: (o: SendOutcome) => T | null) => done.map((d) => pick(d.outcome));
  const answer = (o: SendOutcome) => (o.kind === 'response' ? o : undefined);
  await db.query(
    `with done as (
       select * from unnest($1::bigint[], $2::int[], $3::text[], $4::jsonb[], $5::text[], $6::boolean[], $7::text[])
                  as d(id, status_code, content_type, headers, content, timed_out, error_msg)
     ), gone as (
       delete from net.http_request_queue q using done where q.id = done.id returning q.id
     )
     insert into net._http_response (id, status_code, content_type, headers, content, timed_out, error_msg)
     select done.* from done join gone using (id)
     on conflict (id) do nothing`,
    [
      done.map((d) => d.id),
      column((o) => answer(o)?.status ?? null),
      column((o) => answer(o)?.contentType ?? null),
      column((o) => (o.kind === 'response' ? JSON.stringify(o.headers) : null)),
      column((o) => answer(o)?.content ?? null),
      column((o) => o.kind === 'timeout'),
      column((o) => (o.kind === 'timeout' || o.kind === 'error' ? o.message : null)),
    ],
  );
}

/** Another attempt in `delayMs`, by whichever instance claims it then. */
export async function retryRequest(db: Tx, id: string, delayMs: number): Promise<void> {
  await db.query(
    `update net.http_request_queue set not_before = now() + $2::float8 * interval '1 millisecond', claimed_until = null
      where id = $1`,
    [id, delayMs],
  );
}

/** Puts a request back untried (the sender is closing): the attempt does not count. */
export async function releaseRequest(db: Tx, id: string): Promise<void> {
  await db.query(
    `update net.http_request_queue set claimed_until = null, attempts = greatest(attempts - 1, 0) where id = $1`,
    [id],
  );
}

/** Milliseconds until some row may be claimed (0: now); undefined for an empty queue. */
export async function nextDueMs(db: Tx): Promise<number | undefined> {
  const { rows } = await db.query<{ wait_ms: number | null }>(
    // No greatest() around the min: greatest(0, null) is 0, so an empty queue would read as due now.
    `select (extract(epoch from min(greatest(not_before, coalesce(claimed_until, not_before))) - now()) * 1000)::float8
            as wait_ms
       from net.http_request_queue`,
  );
  const wait = rows[0]?.wait_ms;
  return wait === null || wait === undefined ? undefined : Math.max(0, wait);
}

/** Deletes responses older than `ttlS` seconds; how many. */
export async function purgeResponses(db: Tx, ttlS: number): Promise<number> {
  const { rowCount } = await db.query(
    `delete from net._http_response where created < now() - $1::int * interval '1 second'`,
    [ttlS],
  );
  return rowCount ?? 0;
}
