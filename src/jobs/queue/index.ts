/** Queues: pgmq's SQL surface (src/sql/0110_pgmq.sql) and Trellis's own job runner. */
export {
  createJobRunner,
  deadLetterQueue,
  JobError,
  type HandleOptions,
  type JobContext,
  type JobHandler,
  type JobOptions,
  type JobRunner,
  type JobRunnerOptions,
} from './runner.js';
export { registerQueueMetrics } from './metrics.js';
export { startJobs } from './start.js';
export { recreateQueues } from './copy.js';
