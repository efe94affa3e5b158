-- Jobs of Trellis's runner added from SQL (a trigger, a function, a migration): pg-boss adds jobs
-- from Node only, and its tables appear at the runner's first start, after migrations. A row here
-- is a job waiting to be handed to the runner: every runner drains the table (LISTEN
-- trellis_job_outbox, and a poll), moving rows into pg-boss in the same transaction that deletes
-- them, so a job is handed over exactly once and nothing is lost when a process dies
-- (src/jobs/queue/outbox.ts). Not exposed to the API roles.

create schema if not exists trellis;

create table if not exists trellis.job_outbox (
  id bigint generated always as identity primary key,
  task text not null,
  payload jsonb not null default '{}',
  run_at timestamptz,
  max_attempts integer,
  created_at timestamptz not null default now()
);
revoke all on trellis.job_outbox from public;

-- The runner's task-name rule (src/jobs/queue/runner.ts), checked here so that a bad name fails
-- the caller's statement rather than the drain.
create or replace function trellis.add_job(
  task text,
  payload jsonb default '{}',
  run_at timestamptz default null,
  max_attempts integer default null
) returns bigint
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
  added bigint;
begin
  if task is null or task !~ '^[A-Za-z0-9_-]{1,64}$' then
    raise exception 'invalid task name %: 1 to 64 letters, digits, ''_'' or ''-''', coalesce(quote_literal(task), 'null')
      using errcode = '22023';
  end if;
  if max_attempts is not null and max_attempts < 1 then
    raise exception 'max_attempts must be 1 or more, not %', max_attempts using errcode = '22023';
  end if;
  insert into trellis.job_outbox (task, payload, run_at, max_attempts)
    values (task, coalesce(payload, '{}'), run_at, max_attempts)
    returning id into added;
  -- One notification per transaction (PostgreSQL folds equal ones), delivered at commit.
  perform pg_notify('trellis_job_outbox', '');
  return added;
end $$;
comment on function trellis.add_job(text, jsonb, timestamptz, integer) is
  'Queues a job of Trellis''s runner from SQL (handed to pg-boss at commit); the outbox row''s id.';
revoke execute on function trellis.add_job(text, jsonb, timestamptz, integer) from public;
-- For the server's login and SECURITY DEFINER functions (trellis.send_push); the API roles have
-- no usage on schema trellis.
