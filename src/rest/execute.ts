/** The one place a /rest/v1 plan runs: as the caller, under the response-size cap. */
import type { Claims, RequestGucs, Tx, TxOptions } from '../db/index.js';
import { ApiError } from '../errors.js';
import type { RestContext } from './context.js';
import { isPgError } from '../db/index.js';
import { fromPgError } from './errors.js';
import type { SqlPlan } from './plan-read.js';
import type { Preferences } from './prefer.js';

export interface ExecuteOptions<R> {
  readonly prefer?: Preferences;
  /** GET requests run read-only, as PostgREST runs them: a volatile function that writes fails. */
  readonly readOnly?: boolean;
  /** A write that answers its rows (return=representation): a body over the cap must roll it back. */
  readonly mayExceedCap?: boolean;
  /** Runs before COMMIT; throwing rolls the statement back (max-affected, single object). */
  readonly check?: (row: R) => void;
  /** End the transaction with ROLLBACK (Prefer: tx=rollback where db-tx-end allows it, or db-tx-end=rollback). */
  readonly rollback?: boolean;
  /** The effective max rows (count=estimated switches to the planner's estimate above it). */
  readonly maxRows?: number;
  /** request.method, request.path, request.headers, request.cookies for functions and policies. */
  readonly gucs?: RequestGucs;
  /** A read-only plan a replica may serve, once it has replayed the caller's fence. */
  readonly replica?: TxOptions['replica'];
  /** A write: the primary's LSN after COMMIT, for the caller's later reads. */
  readonly onCommitLsn?: TxOptions['onCommitLsn'];
}

/** Runs a plan as the caller; PostgreSQL errors become PostgREST's responses. */
export async function execute<R extends Record<string, unknown>>(
  ctx: RestContext,
  claims: Claims,
  plan: SqlPlan,
  options: ExecuteOptions<R> = {},
): Promise<R> {
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
    if (!options.check && !options.rollback && !plan.estimate && (options.readOnly || !options.mayExceedCap)) {
      const result = await ctx.services.db.queryAs<R & { bytes: number | null }>(claims, capped.text, capped.values, {
        readOnly: options.readOnly,
        gucs: options.gucs,
        replica: options.replica,
        onCommitLsn: options.onCommitLsn,
      });
      return checked(result.rows[0] as R & { bytes: number | null });
    }
    return await ctx.services.db.withClaims(
      claims,
      async (tx) => {
        const row = checked(
          (await tx.query<R & { bytes: number | null }>(capped.text, capped.values)).rows[0] as R & {
            bytes: number | null;
          },
        );
        const maxRows = options.maxRows ?? ctx.services.config.rest.maxRows;
        if (plan.estimate && (row.total === null || Number(row.total) > maxRows)) {
          (row as Record<string, unknown>).total = await plannedRows(tx, plan.estimate);
        }
        options.check?.(row);
        if (options.rollback) throw new RollbackRequested(row);
        return row;
      },
      { readOnly: options.readOnly, gucs: options.gucs, replica: options.replica, onCommitLsn: options.onCommitLsn },
    );
  } catch (err) {
    if (err instanceof RollbackRequested) return err.row as R;
    if (isPgError(err)) throw fromPgError(err, claims.role);
    throw err;
  }
}

/** count=planned: the planner's estimate of the rows, under the caller's role (RLS shapes the plan). */
async function plannedRows(tx: Tx, estimate: NonNullable<SqlPlan['estimate']>): Promise<string> {
  const result = await tx.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(
    `explain (format json) ${estimate.text}`,
    estimate.values,
  );
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
