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
import { readRestInput } from './request-http.js';
import { notSingle, respondWrite } from './respond.js';

export async function write(ctx: RestContext, c: Context<KeyEnv>): Promise<Response> {
  // The token first: without a valid one, nothing about the schema is revealed.
  const claims = await requestClaims(ctx, c);
  const cache = await ctx.cache.get();
  const request = parseRestRequest(
    await readRestInput(c, 'relation'),
    ctx.services.config.rest.schemas,
    cache,
  ) as WriteRequest;
  checkAggregatesAllowed(request.query.select, ctx.services.config.rest.aggregatesEnabled);
  const { relation, query, prefer, representation, location } = request;
  const { maxRows, maxResponseBytes } = ctx.services.config.rest;
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
  const row = await execute<ReadRow & { location: string | null }>(ctx, claims, plan, {
    prefer,
    mayExceedCap: representation,
    check: affectedCheck(request),
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
