/** A worker process that takes one `slow` job and never finishes it, to be killed mid-job by queue-runner.test.ts. */
import pg from 'pg';
import { createJobRunner } from '../../src/jobs/index.js';
import { createLogger } from '../../src/platform/logger.js';

const url = process.env.JOBS_TEST_URL!;
const sql = new pg.Pool({ connectionString: url, max: 1 });
const runner = await createJobRunner({
  url,
  log: createLogger({ level: 'silent', pretty: false }),
  timeoutSeconds: 2,
  retryDelaySeconds: 1,
  maintenanceIntervalSeconds: 1,
});
await runner.handle<{ n: number }>('slow', async (payload, job) => {
  await sql.query('insert into public.started (n, attempt, pid) values ($1, $2, $3)', [
    payload.n,
    job.attempt,
    process.pid,
  ]);
  await new Promise(() => undefined);
});
