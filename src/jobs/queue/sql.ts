/** The SQL of the job runner and of the queue metrics, as plain text (identifiers are fixed). */

/**
 * Dead and stuck jobs for an operator, over pg-boss's tables (made at the runner's first start,
 * hence views made then rather than in a migration). One instance at a time replaces them.
 */
export const JOB_VIEWS = `
begin;
select pg_advisory_xact_lock(hashtext('trellis.job_views'));
create schema if not exists trellis;
create or replace view trellis.dead_jobs as
  select name as task, id, data as payload, retry_count + 1 as attempts, output as error, created_on,
         completed_on as failed_on
    from pgboss.job where state = 'failed' and name not like '%.dead'
  union all
  select name, id, data, retry_count + 1, output, created_on, completed_on
    from pgboss.archive where state = 'failed' and name not like '%.dead';
comment on view trellis.dead_jobs is 'Jobs of Trellis''s runner that failed their last attempt (a copy waits in the <task>.dead queue).';
create or replace view trellis.stuck_jobs as
  select name as task, id, state::text as state, data as payload, retry_count + 1 as attempts, started_on,
         start_after, output as last_error,
         case when state = 'active' then 'running past its timeout (its worker may have died)'
              else 'failed, waiting for its next attempt' end as why
    from pgboss.job
   where (state = 'active' and started_on + expire_in < now()) or state = 'retry';
comment on view trellis.stuck_jobs is 'Jobs of Trellis''s runner past their timeout, or failed and waiting for a retry.';
revoke all on trellis.dead_jobs, trellis.stuck_jobs from public;
commit;
`;

/** Jobs by task and state, and the age of the oldest of each (pg-boss's schema exists once a runner started). */
export const JOB_COUNTS = `
select name as task, state::text as state, count(*)::float8 as jobs,
       coalesce(extract(epoch from now() - min(created_on)), 0)::float8 as oldest_s
  from pgboss.job
 group by name, state`;

/** Every pgmq queue's metrics, with what its dead-letter rule moved. */
export const QUEUE_METRICS = `
select m.queue_name, m.queue_length::float8 as depth, coalesce(m.oldest_msg_age_sec, 0)::float8 as oldest_s,
       m.total_messages::float8 as sent, coalesce(s.dead_lettered, 0)::float8 as dead_lettered
  from pgmq.metrics_all() m left join trellis.queue_settings s using (queue_name)`;

/** Whether trellis.job_outbox exists (src/sql/0150_job_outbox.sql). */
export const OUTBOX_EXISTS = `select to_regclass('trellis.job_outbox') is not null as exists`;

/** A batch of jobs added from SQL, oldest first, locked for this drain; payload as text (kept as written). */
export const OUTBOX_TAKE = `
select id::text, task, payload::text as payload, run_at, max_attempts
  from trellis.job_outbox
 order by id
 limit $1
   for update skip locked`;

export const OUTBOX_DELETE = `delete from trellis.job_outbox where id = any($1::bigint[])`;
