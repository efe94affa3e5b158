/**
 * `--follow`: PostgreSQL's logical replication keeps the target in step after the copy. The slot is
 * made with an exported snapshot, and the copy reads in that snapshot, so every change after it is
 * in the slot and nothing before it is sent twice. The target subscribes without copying
 * (copy_data = false) to the slot the source already has (create_slot = false).
 */
import type pg from 'pg';
import { FatalError, errorMessage } from '../errors.js';
import { ident, redactUrl, type TableRef } from '../db/index.js';
import { closeQuietly, connectTo, oneLine } from './connect.js';
import { listSome } from './plan.js';

/** Publication, slot and subscription share one name: one follow at a time per source. */
export const FOLLOW_NAME = 'trellis_move';
const CATCH_UP_TIMEOUT_MS = 120_000;

export interface FollowStart {
  /** The snapshot the copy must read in (SET TRANSACTION SNAPSHOT). */
  readonly snapshot: string;
  /** Ends the replication connection; only once the snapshot has been taken up. */
  release(): Promise<void>;
}

export async function startFollow(
  source: pg.ClientBase,
  sourceUrl: string,
  tables: readonly TableRef[],
): Promise<FollowStart> {
  const { rows } = await source.query<{ what: string }>(
    `select 'slot' as what from pg_replication_slots where slot_name = $1
     union all select 'publication' from pg_publication where pubname = $1`,
    [FOLLOW_NAME],
  );
  if (rows.length > 0)
    throw new FatalError(
      `the source already has a ${rows.map((r) => r.what).join(' and ')} named ${FOLLOW_NAME}: a move --follow is under way; end it with \`trellis move --finish --to …\``,
    );
  const list = tables.map((t) => `${ident(t.schema)}.${ident(t.table)}`).join(', ');
  await source.query(`create publication ${ident(FOLLOW_NAME)} for table ${list}`);
  // The replication protocol's own command: only it exports a snapshot that matches the slot's start.
  // node-postgres passes `replication` in the startup packet; its types do not list it.
  const replicationMode = { replication: 'database' } as pg.ClientConfig;
  const replication = await connectTo(sourceUrl, 'source database (replication connection)', replicationMode);
  try {
    const slot = await replication.query<{ snapshot_name: string }>(
      `CREATE_REPLICATION_SLOT ${ident(FOLLOW_NAME)} LOGICAL pgoutput (SNAPSHOT 'export')`,
    );
    const snapshot = slot.rows[0]?.snapshot_name ?? '';
    if (!/^[0-9A-Fa-f-]+$/.test(snapshot)) throw new Error(`unexpected snapshot name "${snapshot}"`);
    return { snapshot, release: () => closeQuietly(replication) };
  } catch (err) {
    await closeQuietly(replication);
    await source.query(`drop publication if exists ${ident(FOLLOW_NAME)}`).catch(() => undefined);
    throw new FatalError(`cannot create the replication slot on the source: ${errorMessage(err)}`);
  }
}

/**
 * The target subscribes to the source. The target server itself connects to `sourceConnInfo`, so it
 * must be able to reach it (same machine or network); otherwise this fails here, clearly.
 */
export async function subscribe(target: pg.Client, sourceConnInfo: string): Promise<void> {
  try {
    await target.query(
      `create subscription ${ident(FOLLOW_NAME)} connection ${target.escapeLiteral(sourceConnInfo)}
         publication ${ident(FOLLOW_NAME)}
         with (create_slot = false, slot_name = ${target.escapeLiteral(FOLLOW_NAME)}, copy_data = false)`,
    );
  } catch (err) {
    const reason = oneLine(errorMessage(err).replaceAll(sourceConnInfo, redactUrl(sourceConnInfo)));
    throw new FatalError(
      `the target cannot subscribe to the source at ${redactUrl(sourceConnInfo)}: ${reason} (--follow needs a target server that can reach the source, and the right to CREATE SUBSCRIPTION)`,
    );
  }
}

/** Removes the slot and publication from the source (a failed --follow, or --finish). */
export async function dropFollowOnSource(source: pg.ClientBase): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const slot = (
      await source.query<{ pid: number | null }>(
        'select active_pid as pid from pg_replication_slots where slot_name = $1',
        [FOLLOW_NAME],
      )
    ).rows[0];
    if (!slot) break;
    if (slot.pid !== null) {
      await source.query('select pg_terminate_backend($1)', [slot.pid]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    const dropped = await source.query('select pg_drop_replication_slot($1)', [FOLLOW_NAME]).then(
      () => true,
      () => false,
    );
    if (dropped) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await source.query(`drop publication if exists ${ident(FOLLOW_NAME)}`);
}

/** Whether the target has the subscription a `--follow` made. */
export async function hasSubscription(target: pg.ClientBase): Promise<boolean> {
  const { rowCount } = await target.query(
    `select 1 from pg_subscription where subname = $1
        and subdbid = (select oid from pg_database where datname = current_database())`,
    [FOLLOW_NAME],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * Waits until the target has confirmed everything the source had written when the wait began. The
 * connection string is set again first: the embedded source listens on a new port after a restart.
 */
export async function waitForCatchUp(
  source: pg.ClientBase,
  target: pg.Client,
  sourceConnInfo: string,
  say: (line: string) => void,
): Promise<void> {
  await target.query(`alter subscription ${ident(FOLLOW_NAME)} connection ${target.escapeLiteral(sourceConnInfo)}`);
  await target.query(`alter subscription ${ident(FOLLOW_NAME)} enable`);
  const lsn = (await source.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0]?.lsn;
  say(`waiting for the target to catch up with the source (to WAL position ${lsn})`);
  const deadline = Date.now() + CATCH_UP_TIMEOUT_MS;
  for (;;) {
    const { rows } = await source.query<{ done: boolean | null }>(
      'select confirmed_flush_lsn >= $2::pg_lsn as done from pg_replication_slots where slot_name = $1',
      [FOLLOW_NAME, lsn],
    );
    if (!rows[0])
      throw new FatalError(`the source has no replication slot ${FOLLOW_NAME}: was the follow ended already?`);
    if (rows[0].done) return;
    if (Date.now() > deadline)
      throw new FatalError(
        `the target has not caught up with the source within ${CATCH_UP_TIMEOUT_MS / 1000} s; can the target server reach ${redactUrl(sourceConnInfo)}? (its log says why not)`,
      );
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Ends the subscription without letting it reach for the source's slot (that is dropped there). */
export async function dropSubscription(target: pg.ClientBase): Promise<void> {
  const name = ident(FOLLOW_NAME);
  await target.query(`alter subscription ${name} disable`);
  await target.query(`alter subscription ${name} set (slot_name = none)`);
  await target.query(`drop subscription ${name}`);
}

export function refuseUnreplicable(tables: readonly string[]): void {
  if (tables.length === 0) return;
  throw new FatalError(
    `--follow cannot carry updates and deletes of tables without a primary key (${listSome(tables)}); add one, or ALTER TABLE … REPLICA IDENTITY FULL, or move without --follow`,
  );
}
