/**
 * Jobs added from SQL: `trellis.add_job(task, payload)` (and trellis.send_push) write rows of
 * trellis.job_outbox (src/sql/0150_job_outbox.sql), which every instance drains into its runner.
 * A drain locks a batch (SKIP LOCKED, so instances share the work), adds each row as a job and
 * deletes the batch in the same transaction: a process that dies half-way leaves its rows to the
 * next drain, which may add some of them again (at-least-once, like every job of the runner).
 */
import type { Db } from '../../db/index.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../platform/logger.js';
import type { JobRunner } from './runner.js';
import { OUTBOX_TAKE, OUTBOX_DELETE, OUTBOX_EXISTS } from './sql.js';

export interface JobOutbox {
  /** Stops draining; waits for a drain under way. */
  stop(): Promise<void>;
}

export interface JobOutboxOptions {
  readonly db: Db;
  readonly log: Logger;
  readonly runner: Pick<JobRunner, 'add'>;
  /** A drain this often even without a notification (one missed during a reconnect). */
  readonly pollIntervalMs?: number;
  /** Rows one transaction takes. */
  readonly batchSize?: number;
}

interface OutboxRow {
  id: string;
  task: string;
  payload: string;
  run_at: Date | null;
  max_attempts: number | null;
}

/** Adds this many jobs at once: the runner's pool has a few connections. */
const ADD_CONCURRENCY = 8;

export async function startJobOutbox(options: JobOutboxOptions): Promise<JobOutbox> {
  const { db, log, runner } = options;
  const batchSize = options.batchSize ?? 500;
  // A database migrated before the outbox existed (a runner on a bare database, in tests): nothing to drain.
  const exists = (await db.query<{ exists: boolean }>(OUTBOX_EXISTS)).rows[0]?.exists === true;
  if (!exists) return { stop: async () => undefined };

  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;

  /** One batch; whether it was full (more may wait). */
  const drainBatch = (): Promise<boolean> =>
    db.transaction(async (tx) => {
      const rows = (await tx.query<OutboxRow>(OUTBOX_TAKE, [batchSize])).rows;
      for (let i = 0; i < rows.length; i += ADD_CONCURRENCY)
        await Promise.all(
          rows.slice(i, i + ADD_CONCURRENCY).map((row) =>
            runner.add(row.task, JSON.parse(row.payload) as object, {
              ...(row.run_at ? { runAt: row.run_at } : {}),
              ...(row.max_attempts !== null ? { maxAttempts: row.max_attempts } : {}),
            }),
          ),
        );
      if (rows.length > 0) await tx.query(OUTBOX_DELETE, [rows.map((r) => r.id)]);
      return rows.length === batchSize;
    });

  const drain = (): void => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      try {
        do {
          again = false;
          while (!stopped && (await drainBatch()));
        } while (again && !stopped);
      } catch (err) {
        log.warn(`handing jobs added from SQL to the runner: ${errorMessage(err)} (the next drain retries)`);
      } finally {
        running = undefined;
      }
    })();
  };

  db.listen('trellis_job_outbox', drain);
  const timer = setInterval(drain, options.pollIntervalMs ?? 5000);
  timer.unref();
  drain();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
