/** The server's job runner and queue metrics, as `trellis start` runs them (one line in server.ts). */
import type { Services } from '../../services.js';
import { registerQueueMetrics } from './metrics.js';
import { startJobOutbox } from './outbox.js';
import { createJobRunner, type JobRunner } from './runner.js';

/** `url`: the server login's URL (the runner keeps a small pool of its own). */
export async function startJobs(
  services: Pick<Services, 'config' | 'log' | 'metrics' | 'db'>,
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
  // Jobs added from SQL (trellis.add_job, trellis.send_push) reach the runner of an instance that runs jobs.
  if (!config.jobs.enabled) return runner;
  const outbox = await startJobOutbox({ db, log, runner });
  return {
    ...runner,
    async close(graceMs) {
      await outbox.stop();
      await runner.close(graceMs);
    },
  };
}
