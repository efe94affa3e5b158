/**
 * Trellis's own job runner (app email, web push, webhook retries run as its jobs), on pg-boss: jobs
 * live in PostgreSQL (schema `pgboss`), so any number of instances share them, each job is taken
 * by one worker at a time (SKIP LOCKED), and a worker that dies mid-job loses nothing: the job
 * expires after `timeoutSeconds` and runs again (at-least-once; handlers must tolerate a repeat).
 * Why pg-boss and not graphile-worker: docs/architecture.md ("Jobs").
 */
import PgBoss from 'pg-boss';
import type { Logger } from '../../platform/logger.js';
import { errorMessage } from '../../errors.js';
import { JOB_VIEWS } from './sql.js';

export interface JobOptions {
  /** Not before this moment (a delayed job). */
  readonly runAt?: Date;
  /** Runs in all, the first included, before the job is dead (default: the runner's). */
  readonly maxAttempts?: number;
}

export interface JobContext {
  readonly id: string;
  readonly task: string;
  /** 1 on the first run, 2 on the first retry, … */
  readonly attempt: number;
}

export type JobHandler<P> = (payload: P, job: JobContext) => Promise<void>;

export interface HandleOptions {
  /** Jobs one fetch takes; they run side by side (default 10). */
  readonly batchSize?: number;
  /** Fetch loops of this process for the task (default 2). */
  readonly workers?: number;
}

export interface JobRunner {
  /** Queues a job of `task`; the id of the job. */
  add(task: string, payload: object, options?: JobOptions): Promise<string>;
  /** This process runs `task`'s jobs with `handler` from now on; a thrown error retries the job. */
  handle<P extends object>(task: string, handler: JobHandler<P>, options?: HandleOptions): Promise<void>;
  /** What this process's handlers did since it started, by task (for /metrics). */
  counts(): ReadonlyMap<string, { readonly completed: number; readonly failed: number }>;
  /** Stops fetching, waits up to `graceMs` for running jobs (those still running then retry later). */
  close(graceMs?: number): Promise<void>;
}

export interface JobRunnerOptions {
  /** The server login's URL (jobs are Trellis's, not a request's). */
  readonly url: string;
  readonly log: Logger;
  /** Fewest ms between two fetches of an idle task (pg-boss's least: 500). */
  readonly pollIntervalMs?: number;
  /** A job running longer than this is taken for dead and retried (default 300). */
  readonly timeoutSeconds?: number;
  /** Default attempts of a job (default 5). */
  readonly maxAttempts?: number;
  /** The first retry waits about this long; each next one about twice as long (default 2). */
  readonly retryDelaySeconds?: number;
  /** How often expired jobs are looked for (default 60). */
  readonly maintenanceIntervalSeconds?: number;
  /** Connections of the runner's own pool (default 4). */
  readonly poolMax?: number;
  /** false: this process adds jobs but runs none (handle() is a no-op), nor the expiry sweep. */
  readonly work?: boolean;
}

/** A task name is also a pg-boss queue name: plain characters, and `.dead` is kept for dead letters. */
const TASK_NAME = /^[A-Za-z0-9_-]{1,64}$/;
export const deadLetterQueue = (task: string): string => `${task}.dead`;

export class JobError extends Error {}

function checkTask(task: string): void {
  if (!TASK_NAME.test(task))
    throw new JobError(`invalid task name ${JSON.stringify(task)}: 1 to 64 letters, digits, '_' or '-'`);
}

/**
 * pg-boss makes a queue's partition with DDL: processes starting together (the workers of
 * `--workers N`, instances behind a balancer) can deadlock on it, or meet the other's new row. Both
 * are transient: the queue is there, or will be, once the other commits. So is the views' CREATE OR
 * REPLACE at each start.
 */
async function concurrentDdl(make: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await make();
      return;
    } catch (err) {
      const code = (err as { code?: string }).code;
      // Deadlock, unique violation, already exists, and "tuple concurrently updated" (XX000) of two
      // CREATE OR REPLACE of one function.
      if (attempt >= 8 || !['40P01', '23505', '42P07', 'XX000'].includes(code ?? '')) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt + Math.random() * 50));
    }
  }
}

export async function createJobRunner(options: JobRunnerOptions): Promise<JobRunner> {
  const { log } = options;
  const maxAttempts = options.maxAttempts ?? 5;
  const boss = new PgBoss({
    connectionString: options.url,
    max: options.poolMax ?? 4,
    application_name: 'trellis-jobs',
    supervise: options.work !== false,
    schedule: false,
    maintenanceIntervalSeconds: options.maintenanceIntervalSeconds ?? 60,
    pollingIntervalSeconds: Math.max(500, options.pollIntervalMs ?? 500) / 1000,
  });
  boss.on('error', (err: Error) => log.warn(`job runner: ${errorMessage(err)}`));
  await boss.start();
  await concurrentDdl(() => boss.getDb().executeSql(JOB_VIEWS, []));

  const queues = new Map<string, Promise<void>>();
  /** This process's pg-boss workers by task: a job added here wakes one of them (round robin). */
  const workers = new Map<string, string[]>();
  let wake = 0;
  const counts = new Map<string, { completed: number; failed: number }>();
  const count = (task: string) => {
    let c = counts.get(task);
    if (!c) counts.set(task, (c = { completed: 0, failed: 0 }));
    return c;
  };
  // Each task's queue (and its dead-letter queue) once per process; createQueue is idempotent.
  const ensureQueue = (task: string): Promise<void> => {
    checkTask(task);
    let made = queues.get(task);
    if (!made) {
      made = (async () => {
        await concurrentDdl(() =>
          boss.createQueue(deadLetterQueue(task), { name: deadLetterQueue(task), retryLimit: 0 }),
        );
        await concurrentDdl(() =>
          boss.createQueue(task, {
            name: task,
            retryLimit: maxAttempts - 1,
            retryDelay: options.retryDelaySeconds ?? 2,
            retryBackoff: true,
            expireInSeconds: options.timeoutSeconds ?? 300,
            deadLetter: deadLetterQueue(task),
          }),
        );
      })();
      made.catch(() => queues.delete(task));
      queues.set(task, made);
    }
    return made;
  };

  return {
    async add(task, payload, jobOptions = {}) {
      await ensureQueue(task);
      const attempts = jobOptions.maxAttempts;
      if (attempts !== undefined && (!Number.isInteger(attempts) || attempts < 1))
        throw new JobError(`maxAttempts must be a whole number of 1 or more, not ${attempts}`);
      const id = await boss.send(task, payload, {
        ...(jobOptions.runAt ? { startAfter: jobOptions.runAt } : {}),
        ...(attempts !== undefined ? { retryLimit: attempts - 1 } : {}),
      });
      if (id === null) throw new JobError(`the job of ${task} was not added`);
      // A job due now runs at once where a worker of its task idles here (others poll for it).
      const local = workers.get(task);
      if (local && !jobOptions.runAt) boss.notifyWorker(local[wake++ % local.length]!);
      return id;
    },

    async handle<P extends object>(task: string, handler: JobHandler<P>, handleOptions: HandleOptions = {}) {
      await ensureQueue(task);
      if (options.work === false) return;
      const run = async (job: PgBoss.JobWithMetadata<P>) => {
        try {
          await handler(job.data, { id: job.id, task, attempt: job.retryCount + 1 });
          count(task).completed++;
        } catch (err) {
          count(task).failed++;
          const last = job.retryCount >= job.retryLimit;
          log.warn(
            { task, job: job.id, attempt: job.retryCount + 1 },
            `job ${task} failed${last ? ' for the last time' : ''}: ${errorMessage(err)}`,
          );
          // Failed one by one, so that the batch's other jobs complete (pg-boss completes only active
          // ones). Should the fail itself fail, the job stays active and expires into a retry.
          await boss
            .fail(task, job.id, { message: errorMessage(err) })
            .catch((failErr: unknown) => log.warn(`marking job ${job.id} failed: ${errorMessage(failErr)}`));
        }
      };
      const batchSize = handleOptions.batchSize ?? 10;
      const ids: string[] = [];
      for (let i = 0; i < (handleOptions.workers ?? 2); i++) {
        // The handler runs after a fetch's round trip, when `id` is long assigned.
        const id: string = await boss.work<P>(task, { batchSize, includeMetadata: true }, async (jobs) => {
          await Promise.all(jobs.map(run));
          // pg-boss waits its polling interval after every fetch; a full batch says more are
          // waiting, so the worker fetches again at once (a busy queue drains at database speed).
          if (jobs.length === batchSize) boss.notifyWorker(id);
        });
        ids.push(id);
      }
      workers.set(task, ids);
    },

    counts: () => counts,

    async close(graceMs = 10_000) {
      await boss.stop({ graceful: true, wait: true, timeout: graceMs });
    },
  };
}
