/**
 * `trellis move --finish`: the cut-over after `--follow`. Waits until the target has every change
 * the source had written, ends the replication (subscription, slot, publication), carries the
 * sequences (logical replication does not) and compares both sides table by table.
 */
import type pg from 'pg';
import { compareDigests, digestTables, ident, listTables } from '../db/index.js';
import { FatalError } from '../errors.js';
import { applySequenceValues, populatedMaterializedViews, sequenceValues } from './catalog.js';
import { closeQuietly, connectTo } from './connect.js';
import { FOLLOW_NAME, dropFollowOnSource, dropSubscription, hasSubscription, waitForCatchUp } from './follow.js';
import { copiedTables, type Endpoint, type MoveReporter, type MoveResult } from './move.js';

export interface FinishRequest {
  readonly source: Endpoint;
  readonly target: Endpoint;
  /** Where the target server reaches the source now (the embedded port changes at each start). */
  readonly sourceConnInfo: string;
  readonly report: MoveReporter;
}

export async function finishFollow(request: FinishRequest): Promise<MoveResult> {
  const { say } = request.report;
  let source: pg.Client | undefined;
  const target = await connectTo(request.target.url, request.target.label);
  try {
    if (!(await hasSubscription(target)))
      throw new FatalError(
        `the ${request.target.label} has no subscription ${FOLLOW_NAME}: no \`trellis move --follow\` is under way there`,
      );
    source = await connectTo(request.source.url, request.source.label);
    await waitForCatchUp(source, target, request.sourceConnInfo, say);
    say('the target has caught up: ending the replication');
    await dropSubscription(target);
    await dropFollowOnSource(source);
    const sequences = await applySequenceValues(target, await sequenceValues(source));
    // Replication carries table rows; the materialized views over them are made again.
    for (const v of await populatedMaterializedViews(source))
      await target.query(`refresh materialized view ${ident(v.schema)}.${ident(v.table)}`);
    await source.query('begin isolation level repeatable read read only');
    const tables = copiedTables(await listTables(source));
    const sourceDigests = await digestTables(source, tables);
    await source.query('commit');
    const targetDigests = await digestTables(target, tables);
    return {
      source: sourceDigests,
      target: targetDigests,
      differences: compareDigests(sourceDigests, targetDigests),
      sequences,
    };
  } finally {
    await closeQuietly(source);
    await closeQuietly(target);
  }
}
