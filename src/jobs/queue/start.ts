/** The server's job runner and queue metrics, as `trellis start` runs them (one line in server.ts). */
import type { Config } from '../../config.js';
import type { Db } from '../../db/index.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';
import { registerQueueMetrics } from './metrics.js';
import { createJobRunner, type JobRunner } from './runner.js';

/** `url`: the server login's URL (the runner keeps a small pool of its own). */
export async function startJobs(
  services: { readonly config: Config; readonly log: Logger; readonly metrics: Metrics; readonly db: Db },
  url: string,
): Promise<JobRunner> {
  const { config, log, metrics, db } = services;
  const runner = await createJobRunner({
    url,
    log,
    timeoutSeconds: config.jobs.timeoutS,
    work: config.jobs.enabled,
  });
  registerQueueMetrics(metrics.registry, db, log, runner);
  return runner;
}
