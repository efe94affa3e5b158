/** POST (insert/upsert), PATCH (update) and DELETE on a table or view. */
import type { Context } from 'hono';
import type { KeyEnv } from '../platform/keys.js';
import { requestClaims } from './claims.js';
import type { RestContext } from './context.js';
import { maxAffectedViolation } from './errors.js';
import { execute, type ReadRow } from './execute.js';
import { planDelete, planInsert, planUpdate, type WriteInput } from './plan-write.js';
import { checkAggregatesAllowed } from './plan-aggregate.js';
import { parseRestRequest, type WriteRequest } from './request.js';
import { readRestInput, requestGucs } from './request-http.js';
import { transactionEnd, withTx } from './db-config.js';
import { plansDisabled, respondPlan } from './explain.js';
import { notSingle, respondWrite } from './respond.js';

export async function write(ctx: RestContext, c: Context<KeyEnv>): Promise<Response> {
  // The token first: without a valid one, nothing about the schema is revealed.
  const claims = await requestClaims(ctx, c);
  const cache = await ctx.cache.get();
  const settings = await ctx.cache.settings();
  const parsed = parseRestRequest(
    await readRestInput(c, 'relation'),
    ctx.services.config.rest.schemas,
    cache,
  ) as WriteRequest;
  if (parsed.plan && !settings.planEnabled) throw plansDisabled(parsed.plan);
  // db-tx-end decides whether Prefer: tx= counts; one it drops is not answered as applied.
  const tx = transactionEnd(settings.txEnd, parsed.prefer.tx);
  const request: WriteRequest = { ...parsed, prefer: withTx(parsed.prefer, tx.applied) };
  checkAggregatesAllowed(request.query.select, settings.aggregatesEnabled);
  const { relation, query, prefer, representation, location } = request;
  const { maxResponseBytes } = ctx.services.config.rest;
  const { maxRows } = settings;
  const input: WriteInput = {
    cache,
    relation,
    query,
    prefer,
    representation,
    location,
    maxRows,
    maxBytes: maxResponseBytes,
  };
  const body = request.body?.value;
  const plan =
    request.action === 'insert'
      ? planInsert(input, body, request.columns, request.onConflict)
      : request.action === 'update'
        ? planUpdate(input, body)
        : planDelete(input);
  const gucs = requestGucs(
    c,
    [request.schema, ...ctx.services.config.rest.extraSearchPath],
    ctx.services.config.trustProxy,
  );
  if (request.plan) return respondPlan(ctx, c, claims, request.plan, plan, { rollback: tx.rollback, gucs });
  const row = await execute<ReadRow & { location: string | null }>(ctx, claims, plan, {
    prefer,
    mayExceedCap: representation,
    check: affectedCheck(request),
    rollback: tx.rollback,
    maxRows,
    gucs,
    onCommitLsn: ctx.services.fences.onWrite(c, claims),
  });
  return respondWrite(c, request, row);
}

/** Checked before COMMIT: a violation (max-affected, one object asked for) leaves the table as it was. */
function affectedCheck(request: WriteRequest): ((row: ReadRow) => void) | undefined {
  const { prefer, single, representation } = request;
  const strict = prefer.handling === 'strict' && prefer.maxAffected !== undefined;
  if (!strict && !(single && representation)) return undefined;
  return (r) => {
    const affected = Number(r.page);
    if (strict && affected > (prefer.maxAffected ?? Infinity)) {
      throw maxAffectedViolation(affected);
    }
    if (single && representation && affected !== 1) throw notSingle(affected);
  };
}
