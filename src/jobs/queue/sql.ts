/** The SQL of the job runner and of the queue metrics, as plain text (identifiers are fixed). */

/**
 * Dead and stuck jobs for an operator, and trellis.add_job (a job from SQL), over pg-boss's tables
 * (made at the runner's first start, hence made then rather than in a migration). One instance at a
 * time replaces them.
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
-- Adding a job from SQL (a trigger, a function): the row pg-boss's own send() writes, with the
-- task's queue settings (retries, backoff, expiry, dead letters). The task's queue must exist, that
-- is, some runner called handle() or add() for it once. Owned by the server login, granted to nobody:
-- SQL functions of Trellis's modules (trellis.send_email, …) call it as SECURITY DEFINER.
create or replace function trellis.add_job(task text, payload jsonb, run_at timestamptz default null)
returns uuid language plpgsql security definer set search_path = pg_catalog, pg_temp as $fn$
declare
  job_id uuid;
  starts timestamptz := coalesce(run_at, now());
begin
  insert into pgboss.job (id, name, data, start_after, dead_letter, expire_in, keep_until, retry_limit,
                          retry_delay, retry_backoff, policy)
  select gen_random_uuid(), q.name, coalesce(payload, '{}'::jsonb), starts, q.dead_letter,
         coalesce(q.expire_seconds, 900) * interval '1 second',
         starts + coalesce(q.retention_minutes * 60, 14 * 86400) * interval '1 second',
         coalesce(q.retry_limit, 2),
         case when coalesce(q.retry_backoff, false) then greatest(coalesce(q.retry_delay, 0), 1)
              else coalesce(q.retry_delay, 0) end,
         coalesce(q.retry_backoff, false), q.policy
    from pgboss.queue q where q.name = task
  returning id into job_id;
  if job_id is null then
    raise exception 'no job task named %', task using errcode = '42704',
      hint = 'a task exists once a runner of this server handled or added it (JOBS_ENABLED)';
  end if;
  return job_id;
end $fn$;
revoke all on function trellis.add_job(text, jsonb, timestamptz) from public;
comment on function trellis.add_job(text, jsonb, timestamptz) is 'Adds a job of Trellis''s runner from SQL (docs/queues.md); its id.';
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
