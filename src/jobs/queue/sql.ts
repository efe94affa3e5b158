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
-- A job from SQL (a trigger, a migration), with the task queue's settings as the runner made them.
create or replace function trellis.add_job(task text, payload jsonb default '{}', run_at timestamptz default now())
returns uuid language plpgsql security definer set search_path = pg_catalog, pg_temp as $fn$
declare
  added uuid;
begin
  insert into pgboss.job (name, data, start_after, dead_letter, expire_in, keep_until, retry_limit, retry_delay,
                          retry_backoff, policy)
  select q.name, coalesce(payload, '{}'), coalesce(run_at, now()), q.dead_letter,
         coalesce(q.expire_seconds, 900) * interval '1 second',
         coalesce(run_at, now()) + coalesce(q.retention_minutes, 20160) * interval '1 minute',
         coalesce(q.retry_limit, 2), greatest(coalesce(q.retry_delay, 0), case when q.retry_backoff then 1 else 0 end),
         coalesce(q.retry_backoff, false), q.policy
    from pgboss.queue q where q.name = task and task !~ '[.]dead$'
  returning id into added;
  if added is null then
    raise exception 'no task %', coalesce(quote_literal(task), 'null') using errcode = '22023',
      hint = 'A task exists once Trellis''s runner has added or handled a job of it.';
  end if;
  return added;
end $fn$;
revoke execute on function trellis.add_job(text, jsonb, timestamptz) from public;
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
