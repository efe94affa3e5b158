/**
 * Partition maintenance on a timer: `trellis.run_partition_maintenance()` (src/sql/0103) at start
 * and every `intervalS`, creating the months ahead and archiving old months of the tables
 * `trellis.partition_by_month` registered. Every instance runs the timer; the function takes a
 * transaction advisory lock and a run that finds it taken does nothing, so one instance does the
 * work. Deliberately tiny: a cron module (issue: jobs/cron) can take the schedule over.
 */
import type { Logger } from '../platform/logger.js';
import { errorMessage } from '../errors.js';
import type { Db } from './pool.js';

export interface PartitionRun {
  readonly parent: string;
  /** created | archived | failed | skipped */
  readonly action: string;
  /** The partition made or archived; for `failed`, the error; for `skipped`, why. */
  readonly partition: string;
}

export interface PartitionMaintenance {
  /** Runs once now (after any run under way); what it did. */
  runNow(): Promise<readonly PartitionRun[]>;
  close(): Promise<void>;
}

/** One run on a connection of its own, without the pool's statement timeout: archiving scans a month. */
export function runPartitionMaintenance(db: Db): Promise<PartitionRun[]> {
  return db.withConnection(async (client) => {
    await client.query('begin');
    try {
      await client.query('set local statement_timeout = 0');
      const { rows } = await client.query<PartitionRun>(
        'select parent, action, partition from trellis.run_partition_maintenance()',
      );
      await client.query('commit');
      return rows;
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    }
  });
}

/** `intervalS` 0: no timer (runNow still works). */
export function startPartitionMaintenance(db: Db, log: Logger, intervalS: number): PartitionMaintenance {
  let busy: Promise<readonly PartitionRun[]> = Promise.resolve([]);
  let stopped = false;
  const pass = async (): Promise<readonly PartitionRun[]> => {
    if (stopped) return [];
    try {
      const rows = await runPartitionMaintenance(db);
      for (const row of rows) {
        if (row.action === 'failed')
          log.warn({ table: row.parent }, `partition maintenance of ${row.parent} failed: ${row.partition}`);
        else if (row.action !== 'skipped')
          log.info({ table: row.parent, partition: row.partition }, `partition ${row.action}: ${row.partition}`);
      }
      return rows;
    } catch (err) {
      log.warn(`partition maintenance failed: ${errorMessage(err)}`);
      return [];
    }
  };
  const next = () => (busy = busy.then(pass));
  const timer = intervalS > 0 ? setInterval(() => void next(), intervalS * 1000) : undefined;
  timer?.unref();
  if (intervalS > 0) void next();
  return {
    runNow: next,
    async close() {
      stopped = true;
      if (timer) clearInterval(timer);
      await busy;
    },
  };
}
