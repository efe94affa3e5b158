/**
 * /metrics for queues, read from the database at scrape time (so every instance reports the same
 * queues): each pgmq queue's depth, oldest message age, messages ever sent (its rate is the
 * throughput) and dead-lettered; the job runner's jobs by task and state, and this process's
 * completed and failed runs.
 */
import { Gauge, type Registry } from 'prom-client';
import type { Db } from '../../db/index.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../platform/logger.js';
import type { JobRunner } from './runner.js';
import { JOB_COUNTS, QUEUE_METRICS } from './sql.js';

interface QueueRow {
  queue_name: string;
  depth: number;
  oldest_s: number;
  sent: number;
  dead_lettered: number;
}

interface JobRow {
  task: string;
  state: string;
  jobs: number;
  oldest_s: number;
}

export function registerQueueMetrics(registry: Registry, db: Db, log: Logger, runner?: JobRunner): void {
  // One query per scrape feeds the four queue gauges: the first gauge collected runs it.
  let scrape: Promise<QueueRow[]> | undefined;
  const queueRows = () => {
    scrape ??= db
      .query<QueueRow>(QUEUE_METRICS)
      .then((r) => r.rows)
      .catch((err: unknown) => {
        log.debug(`queue metrics: ${errorMessage(err)}`);
        return [];
      })
      .finally(() => setImmediate(() => (scrape = undefined)));
    return scrape;
  };
  const queueGauge = (name: string, help: string, pick: (row: QueueRow) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['queue'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const row of await queueRows()) this.set({ queue: row.queue_name }, pick(row));
      },
    });
  queueGauge('trellis_queue_depth', 'Messages in a pgmq queue (visible or not).', (r) => r.depth);
  queueGauge('trellis_queue_oldest_message_age_seconds', "Age of a pgmq queue's oldest message.", (r) => r.oldest_s);
  queueGauge(
    'trellis_queue_messages_sent',
    'Messages ever sent to a pgmq queue (total_messages): rate() of it is the throughput.',
    (r) => r.sent,
  );
  queueGauge(
    'trellis_queue_messages_dead_lettered',
    "Messages a pgmq queue's dead-letter rule moved to its dead-letter queue.",
    (r) => r.dead_lettered,
  );
  if (!runner) return;

  let jobScrape: Promise<JobRow[]> | undefined;
  const jobRows = () => {
    jobScrape ??= db
      .query<JobRow>(JOB_COUNTS)
      .then((r) => r.rows)
      .catch((err: unknown) => {
        log.debug(`job metrics: ${errorMessage(err)}`);
        return [];
      })
      .finally(() => setImmediate(() => (jobScrape = undefined)));
    return jobScrape;
  };
  new Gauge({
    name: 'trellis_jobs',
    help: "Jobs of Trellis's runner by task and state (created, retry, active, completed, failed, …).",
    labelNames: ['task', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of await jobRows()) this.set({ task: row.task, state: row.state }, row.jobs);
    },
  });
  new Gauge({
    name: 'trellis_jobs_oldest_waiting_seconds',
    help: 'Age of the oldest job of a task waiting to run (created or retry).',
    labelNames: ['task'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const oldest = new Map<string, number>();
      for (const row of await jobRows())
        if (row.state === 'created' || row.state === 'retry')
          oldest.set(row.task, Math.max(oldest.get(row.task) ?? 0, row.oldest_s));
      for (const [task, seconds] of oldest) this.set({ task }, seconds);
    },
  });
  const runs = (name: string, help: string, pick: (c: { completed: number; failed: number }) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['task'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [task, c] of runner.counts()) this.set({ task }, pick(c));
      },
    });
  runs('trellis_jobs_completed_runs', "Jobs this process's handlers completed, by task.", (c) => c.completed);
  runs(
    'trellis_jobs_failed_runs',
    "Runs that threw in this process's handlers (each retry counts), by task.",
    (c) => c.failed,
  );
}
