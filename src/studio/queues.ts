/**
 * Studio's queues and cron page: the pgmq queues (depth, oldest message, dead letters), the job
 * runner's dead jobs, and the cron jobs with their last runs. The CLI has no queue or cron command;
 * the actions here are the documented SQL functions (docs/queues.md, docs/cron.md) an operator
 * would call: `pgmq.purge_queue`, and `cron.alter_job(active := …)` to pause and resume a job.
 */
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { Db } from '../db/index.js';
import { ApiError } from '../errors.js';
import type { HttpEnv } from '../platform/http.js';
import { respondJson } from '../platform/json.js';
import { refused } from './pg-errors.js';

/** pgmq's rule, after lower-casing (docs/queues.md): refused here before any SQL. */
const QUEUE_NAME = /^[a-z0-9_]{1,47}$/;
const RUNS_SHOWN = 5;

const QUEUES_SQL = `
select m.queue_name as name, m.queue_length::int as depth, m.queue_visible_length::int as visible,
       m.oldest_msg_age_sec as "oldestAgeSeconds", m.newest_msg_age_sec as "newestAgeSeconds",
       m.total_messages::bigint::text as "totalSent", q.created_at as "createdAt",
       case when d.queue_name is null then null else json_build_object(
         'queue', d.dead_letter_queue, 'maxReads', d.max_reads, 'moved', d.dead_lettered, 'waiting', d.waiting) end
         as "deadLetter"
  from pgmq.metrics_all() m
  join pgmq.meta q on q.queue_name = m.queue_name
  left join trellis.queue_dead_letters d on d.queue_name = m.queue_name
 order by m.queue_name`;

const DEAD_JOBS_SQL = `
select task, count(*)::int as count, max(failed_on) as "lastFailedAt"
  from trellis.dead_jobs group by task order by task`;

// scheduled_at is Trellis's column: read through to_jsonb, so that pg_cron's own table (without it) answers too.
const CRON_SQL = `
select j.jobid::int as id, j.jobname as name, j.schedule, j.command, j.username, j.active,
       coalesce((select json_agg(r order by r."startTime" desc nulls last)
                   from (select d.runid::int as id, d.status, d.return_message as "returnMessage",
                                d.start_time as "startTime", d.end_time as "endTime",
                                (to_jsonb(d) ->> 'scheduled_at')::timestamptz as "scheduledAt"
                           from cron.job_run_details d where d.jobid = j.jobid
                          order by d.start_time desc nulls last limit ${RUNS_SHOWN}) r), '[]') as "lastRuns"
  from cron.job j order by j.jobid`;

/** An undefined table or schema (a database without the runner's views yet): nothing to list. */
const missing = (err: unknown) =>
  (err as { code?: string }).code === '42P01' || (err as { code?: string }).code === '3F000';

export function queueRoutes(
  app: Hono<HttpEnv>,
  db: Db,
  cronEnabled: boolean,
  readBody: <S extends z.ZodType>(c: Context, schema: S) => Promise<z.output<S>>,
): void {
  app.get('/queues', async (c) => {
    const [queues, deadJobs] = await Promise.all([
      db.query(QUEUES_SQL).then((r) => r.rows),
      // The runner makes its views at its first start (JOBS_ENABLED): before that, none.
      db.query(DEAD_JOBS_SQL).then(
        (r) => r.rows,
        (err: unknown) => {
          if (missing(err)) return [];
          throw err;
        },
      ),
    ]);
    return respondJson(c, { queues, deadJobs });
  });

  app.post('/queues/:name/purge', async (c) => {
    const name = c.req.param('name').toLowerCase();
    if (!QUEUE_NAME.test(name))
      throw new ApiError(400, 'validation_failed', 'a queue name is 1 to 47 letters, digits or underscores');
    const { confirm } = await readBody(c, z.object({ confirm: z.string().max(64).optional() }).strict());
    if (confirm?.toLowerCase() !== name)
      throw new ApiError(
        400,
        'confirmation_required',
        `purging needs "confirm": "${name}" (the queue's name, repeated)`,
      );
    const exists = await db.query('select 1 from pgmq.meta where queue_name = $1', [name]);
    if (exists.rowCount === 0) throw new ApiError(404, 'queue_not_found', `no queue ${name}`);
    const { rows } = await db
      .query<{ purged: string }>('select pgmq.purge_queue($1)::text as purged', [name])
      .catch(refused);
    return respondJson(c, { queue: name, purged: Number(rows[0]?.purged ?? 0) });
  });

  app.get('/cron', async (c) =>
    respondJson(c, { schedulerEnabled: cronEnabled, jobs: (await db.query(CRON_SQL)).rows }),
  );

  const setActive = (active: boolean) => async (c: Context<HttpEnv>) => {
    const raw = c.req.param('id') ?? '';
    if (!/^\d{1,18}$/.test(raw)) throw new ApiError(400, 'validation_failed', 'a cron job id is a whole number');
    const found = await db.query('select 1 from cron.job where jobid = $1', [raw]);
    if (found.rowCount === 0) throw new ApiError(404, 'cron_job_not_found', `no cron job ${raw}`);
    await db.query('select cron.alter_job($1::bigint, active := $2)', [raw, active]).catch(refused);
    const { rows } = await db.query(`select * from (${CRON_SQL}) j where j.id = $1`, [raw]);
    return respondJson(c, { job: rows[0] ?? null });
  };
  app.post('/cron/:id/pause', setActive(false));
  app.post('/cron/:id/resume', setActive(true));
}
