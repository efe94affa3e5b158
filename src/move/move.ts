/**
 * A project's database from one server to another: the target gets Trellis's schema and the
 * project's migrations by the code path a start uses, then every table's rows by COPY in one
 * transaction, read from the source in one snapshot, and is compared table by table before that
 * transaction commits. A failure removes what the move made on the target.
 */
import type pg from 'pg';
import type { Config } from '../config.js';
import {
  compareDigests,
  copyTableBetween,
  createDb,
  digestTables,
  ident,
  isMigrated,
  listTables,
  migrate,
  type DigestDifference,
  type TableDigest,
  type TableRef,
} from '../db/index.js';
import { FatalError, errorMessage } from '../errors.js';
import type { Progress, ProgressOptions } from '../platform/progress.js';
import {
  applySequenceValues,
  foreignKeyEdges,
  populatedMaterializedViews,
  sequenceValues,
  tableColumns,
  tablesWithUserTriggers,
  tablesWithoutReplicaIdentity,
} from './catalog.js';
import { closeQuietly, connectTo, oneLine, stepFailed } from './connect.js';
import { dropFollowOnSource, refuseUnreplicable, startFollow, subscribe, type FollowStart } from './follow.js';
import { recreateQueues } from '../jobs/index.js';
import { listSome, missingOnTarget, orderTables, tableLabel } from './plan.js';
import {
  checkVersion,
  footprint,
  projectDataOn,
  refuseNonEmpty,
  serverFacts,
  undoMove,
  type ServerFacts,
} from './target.js';

export interface MoveReporter {
  readonly say: (line: string) => void;
  readonly progress: (label: string, options: ProgressOptions) => Progress;
}

export interface Endpoint {
  readonly url: string;
  /** How messages name it: "target database postgres://…". */
  readonly label: string;
  /** What to do when it is not empty, when the usual advice (a new database) does not fit. */
  readonly whenNotEmpty?: string;
}

export interface MoveRequest {
  readonly source: Endpoint;
  readonly target: Endpoint;
  readonly migrationsDir: string;
  readonly pool: Config['pool'];
  /** Keep the target in step afterwards; the connection string the target server reaches the source at. */
  readonly follow?: { readonly sourceConnInfo: string };
  readonly report: MoveReporter;
  /** SIGINT/SIGTERM: stop where the move is and remove what it made on the target. */
  readonly abort?: AbortSignal;
}

export interface MoveResult {
  readonly source: readonly TableDigest[];
  readonly target: readonly TableDigest[];
  readonly differences: readonly DigestDifference[];
  readonly sequences: number;
  /** What a failed verification removed from the target again. */
  readonly removed?: readonly string[];
}

/**
 * Not copied: the request login role's row names a role made for the source database by name
 * (src/db/request-role.ts); the server on the target makes its own at its first start.
 */
const NOT_COPIED = new Set(['trellis.request_roles']);
/**
 * Nor the job runner's schema (pg-boss), which its start makes, not a migration: the target's
 * runner makes its own at its first start. Jobs still waiting on the source stay there (docs/queues.md).
 */
const RUNTIME_SCHEMAS = new Set(['pgboss']);
const copied = (t: { schema: string; table: string }): boolean =>
  !NOT_COPIED.has(tableLabel(t)) && !RUNTIME_SCHEMAS.has(t.schema);

export const copiedTables = (tables: readonly TableRef[]): TableRef[] => tables.filter(copied);

export async function moveDatabase(request: MoveRequest): Promise<MoveResult> {
  const { say } = request.report;
  let source: pg.Client | undefined;
  const target = await connectTo(request.target.url, request.target.label);
  try {
    const facts = await serverFacts(target);
    checkVersion(facts, `the ${request.target.label}`);
    source = await connectTo(request.source.url, request.source.label);
    checkVersion(await serverFacts(source), `the ${request.source.label}`);
    const sourceSchemas = [...new Set((await listTables(source)).map((t) => t.schema))];
    refuseNonEmpty(
      await projectDataOn(target, sourceSchemas),
      `the ${request.target.label}`,
      request.target.whenNotEmpty,
    );
    await checkMigrated(request.source.url, request);
    const before = await footprint(target);
    // An interruption ends the target connection (and with it the COPY under way and its
    // transaction's locks); the undo then runs on a connection of its own.
    let interrupted = false;
    const interrupt = () => {
      interrupted = true;
      void target.end().catch(() => undefined);
    };
    request.abort?.addEventListener('abort', interrupt, { once: true });
    let result: MoveResult;
    try {
      if (request.abort?.aborted) interrupt();
      result = await moveInto(source, target, facts, request);
      if (interrupted) throw new FatalError('interrupted');
    } catch (err) {
      const cleaner = interrupted ? await connectTo(request.target.url, request.target.label) : target;
      try {
        const removed = await undoMove(cleaner, before);
        if (removed.length > 0) say(`removed from the target what the move had made: ${listSome(removed, 20)}`);
      } finally {
        if (cleaner !== target) await closeQuietly(cleaner);
      }
      if (interrupted)
        throw new FatalError(`interrupted by ${String(request.abort?.reason)}; the target is left as it was`);
      throw err;
    } finally {
      request.abort?.removeEventListener('abort', interrupt);
    }
    if (result.differences.length === 0) return result;
    return { ...result, removed: await undoMove(target, before) };
  } finally {
    await closeQuietly(source);
    await closeQuietly(target);
  }
}

/** The source must hold every migration of the folder: the target gets them all, and then its rows. */
async function checkMigrated(url: string, request: MoveRequest): Promise<void> {
  const db = createDb({ ...request.pool, url, onIdleError: () => undefined });
  try {
    if (!(await isMigrated(db, request.migrationsDir)))
      throw new FatalError(
        `the ${request.source.label} lacks migrations of ${request.migrationsDir}; run \`trellis migrate\` first, so both sides get the same schema`,
      );
  } catch (err) {
    // A database without Trellis's schema at all has no project to move.
    if ((err as { code?: string }).code === '42P01')
      throw new FatalError(`the ${request.source.label} holds no Trellis project (no trellis.schema_versions)`);
    throw err;
  } finally {
    await db.close();
  }
}

async function moveInto(
  source: pg.Client,
  target: pg.Client,
  facts: ServerFacts,
  request: MoveRequest,
): Promise<MoveResult> {
  const { say } = request.report;
  say(`applying Trellis's schema and the project's migrations on the ${request.target.label}`);
  const db = createDb({ ...request.pool, url: request.target.url, onIdleError: () => undefined });
  try {
    await migrate(db, request.migrationsDir, { dryRun: false, onProgress: say, abort: request.abort });
  } catch (err) {
    throw stepFailed('migrating the target', err);
  } finally {
    await db.close();
  }
  // Queues made from SQL rather than a migration (docs/queues.md): the target gets their tables too.
  const queues = await recreateQueues(source, target).catch((err: unknown) => {
    throw stepFailed('making the queues on the target', err);
  });
  if (queues.length > 0) say(`queues on the ${request.target.label}: ${listSome(queues)}`);

  const sourceColumns = await tableColumns(source);
  const missing = missingOnTarget(sourceColumns.filter(copied), await tableColumns(target));
  if (missing.tables.length > 0 || missing.columns.length > 0) {
    const parts = [
      missing.tables.length > 0 ? `tables ${listSome(missing.tables)}` : '',
      missing.columns.length > 0 ? `columns ${listSome(missing.columns)}` : '',
    ].filter(Boolean);
    throw new FatalError(
      `the source has ${parts.join(' and ')} that no migration makes (created outside supabase/migrations, e.g. in psql); put their DDL in a migration file and run the move again`,
    );
  }

  const tables = copiedTables(await listTables(source));
  const planned = orderTables(tables, await foreignKeyEdges(source));
  // A cycle of foreign keys has no loading order; only a superuser may switch their checks off.
  const replica = 'cycle' in planned;
  if ('cycle' in planned && !facts.superuser)
    throw new FatalError(
      `foreign keys between ${listSome(planned.cycle.map(tableLabel))} form a cycle, which loads only as a superuser of the target (session_replication_role)`,
    );
  const order = 'order' in planned ? planned.order : tables;
  const columns = new Map<string, string[]>();
  for (const c of sourceColumns) {
    if (c.generated) continue;
    const key = tableLabel(c);
    columns.set(key, [...(columns.get(key) ?? []), c.column]);
  }

  let follow: FollowStart | undefined;
  if (request.follow) {
    refuseUnreplicable(await tablesWithoutReplicaIdentity(source, tables));
    follow = await startFollow(source, request.source.url, tables);
  }
  try {
    const result = await copyAll(source, target, { order, tables, columns, replica, follow }, request.report);
    if (request.follow && result.differences.length === 0) {
      say('subscribing the target to the source');
      await subscribe(target, request.follow.sourceConnInfo);
    } else if (request.follow) {
      await dropFollowOnSource(source);
    }
    return result;
  } catch (err) {
    await follow?.release();
    // The source connection may be stuck in a COPY cut off half way (a query behind it would wait
    // for ever): it is closed, and the replication objects are dropped over a fresh one.
    await closeQuietly(source);
    if (request.follow) {
      const fresh = await connectTo(request.source.url, request.source.label).catch(() => undefined);
      if (fresh) await dropFollowOnSource(fresh).catch(() => undefined);
      await closeQuietly(fresh);
    }
    throw err;
  }
}

interface CopyPlan {
  readonly order: readonly TableRef[];
  readonly tables: readonly TableRef[];
  readonly columns: ReadonlyMap<string, readonly string[]>;
  readonly replica: boolean;
  readonly follow?: FollowStart;
}

async function copyAll(
  source: pg.Client,
  target: pg.Client,
  plan: CopyPlan,
  report: MoveReporter,
): Promise<MoveResult> {
  // One snapshot for every table and the digests; with --follow, the slot's, so the stream takes up
  // exactly where the copy ends.
  await source.query('begin isolation level repeatable read read only');
  if (plan.follow) {
    await source.query(`set transaction snapshot '${plan.follow.snapshot}'`);
    await plan.follow.release();
  }
  const sourceDigests = await digestTables(source, plan.tables);
  const rowsOf = new Map(sourceDigests.map((d) => [tableLabel(d), d.rows]));
  const sequences = await sequenceValues(source);
  const views = await populatedMaterializedViews(source);

  await target.query('begin');
  try {
    if (plan.replica) await target.query('set local session_replication_role = replica');
    // The rows come as they are: a trigger (a profile made per new user) would add rows twice.
    const triggered = await tablesWithUserTriggers(target, plan.tables);
    for (const t of triggered) await target.query(`alter table ${qualified(t)} disable trigger user`);
    // Rows the migrations wrote on the target (their bookkeeping, a seed in a migration) are
    // replaced by the source's own.
    if (plan.tables.length > 0) await target.query(`truncate ${plan.tables.map(qualified).join(', ')}`);
    for (const t of plan.order) {
      const label = tableLabel(t);
      const bar = report.progress(label, { unit: 'bytes' });
      try {
        await copyTableBetween(source, target, t, plan.columns.get(label) ?? [], (n) => bar.tick(n));
      } catch (err) {
        bar.fail(oneLine(errorMessage(err)));
        throw new FatalError(`copying ${label} failed: ${oneLine(errorMessage(err))}`);
      }
      const rows = rowsOf.get(label) ?? 0;
      bar.done(`${rows.toLocaleString('en-US')} ${rows === 1 ? 'row' : 'rows'}`);
    }
    const set = await applySequenceValues(target, sequences);
    for (const t of triggered) await target.query(`alter table ${qualified(t)} enable trigger user`);
    for (const v of views) await target.query(`refresh materialized view ${qualified(v)}`);
    const targetDigests = await digestTables(target, plan.tables);
    const differences = compareDigests(sourceDigests, targetDigests);
    await target.query(differences.length === 0 ? 'commit' : 'rollback');
    await source.query('commit');
    return { source: sourceDigests, target: targetDigests, differences, sequences: set };
  } catch (err) {
    await target.query('rollback').catch(() => undefined);
    throw err;
  }
}

const qualified = (t: TableRef): string => `${ident(t.schema)}.${ident(t.table)}`;
