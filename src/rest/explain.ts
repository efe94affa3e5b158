/**
 * The EXPLAIN media type, as PostgREST: `Accept: application/vnd.pgrst.plan+json; for="…";
 * options=analyze|verbose|settings|buffers|wal` answers PostgreSQL's plan of the statement the
 * request would run, instead of its rows. Only when db-plan-enabled is on (REST_DB_PLAN_ENABLED or
 * `pgrst.db_plan_enabled`); otherwise PostgREST answers 406 as for any media type it cannot give.
 */
import type { Context } from 'hono';
import type { Claims } from '../db/index.js';
import { isPgError } from '../db/index.js';
import { ApiError } from '../errors.js';
import type { RestContext } from './context.js';
import { fromPgError } from './errors.js';
import type { SqlPlan } from './plan-read.js';
import type { RequestGucs } from '../db/index.js';
import type { PlanMedia } from './plan-media.js';

/** PostgREST's 406 (PGRST107) for a plan asked while db-plan-enabled is off. */
export function plansDisabled(media: PlanMedia): ApiError {
  return new ApiError(406, 'PGRST107', `None of these media types are available: ${media.accepted.join(', ')}`, {
    details: null,
    hint: null,
  });
}

/** `explain (format json, analyze, …) <statement>`: the options are from a fixed list, never from the request. */
export function explainSql(media: PlanMedia, plan: SqlPlan): SqlPlan {
  const options = [`format ${media.format}`, ...media.options].join(', ');
  return { text: `explain (${options}) ${plan.text}`, values: plan.values };
}

/**
 * Runs the EXPLAIN as the caller (under RLS, in the request's transaction mode) and answers it.
 * With `analyze` the statement really runs: a write is committed unless the request rolls back,
 * as with PostgREST.
 */
export async function respondPlan(
  ctx: RestContext,
  c: Context,
  claims: Claims,
  media: PlanMedia,
  plan: SqlPlan,
  options: { readonly readOnly?: boolean; readonly rollback?: boolean; readonly gucs?: RequestGucs },
): Promise<Response> {
  const sql = explainSql(media, plan);
  let rows: Record<string, unknown>[] = [];
  try {
    await ctx.services.db.withClaims(
      claims,
      async (tx) => {
        rows = (await tx.query(sql.text, sql.values)).rows;
        if (options.rollback) throw new PlanRollback();
      },
      { readOnly: options.readOnly, gucs: options.gucs },
    );
  } catch (err) {
    if (!(err instanceof PlanRollback)) {
      if (isPgError(err)) throw fromPgError(err, claims.role);
      throw err;
    }
  }
  const lines = rows.map((r) => r['QUERY PLAN']);
  const body = media.format === 'json' ? JSON.stringify(lines[0] ?? []) : lines.map(String).join('\n');
  c.header('content-type', `application/vnd.pgrst.plan+${media.format}; for="${media.for}"; charset=utf-8`);
  return c.body(body, 200);
}

class PlanRollback extends Error {
  constructor() {
    super('plan rolled back');
  }
}
