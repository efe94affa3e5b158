-- Cron with pg_cron's public names (docs/cron.md): the tables cron.job and cron.job_run_details and
-- the functions cron.schedule, cron.unschedule, cron.alter_job and cron.schedule_in_database. The
-- Trellis server runs the jobs (src/jobs/cron/). A database that already has a schema named cron
-- (the real pg_cron extension) is left alone, and the server then runs no scheduler.

-- The schedule grammar of src/jobs/cron/schedule.ts, in SQL, so that scheduling a bad one is an
-- error the caller sees: null when `schedule` is valid, else what is wrong with it.
create or replace function trellis.cron_schedule_problem(schedule text) returns text
language plpgsql immutable as $$
declare
  -- ASCII white space only, as schedule.ts reads it: runs become one space, none at either end.
  source text := btrim(regexp_replace(lower(coalesce(schedule, '')), '[ \t\n\r\f\v]+', ' ', 'g'), ' ');
  field_names text[] := array['minute', 'hour', 'day of month', 'month', 'day of week'];
  lows int[] := array[0, 0, 1, 1, 0];
  highs int[] := array[59, 23, 31, 12, 7];
  months text[] := array['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
  weekdays text[] := array['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
  fields text[];
  item text;
  parts text[];
  bound text;
  v int;
  prev int;
  i int;
begin
  if source = '' then return 'a schedule is required'; end if;
  if source ~ '^\d{1,9} seconds?$' then
    v := substring(source from '^(\d+)')::int;
    if v < 1 or v > 59 then return format('an interval is 1 to 59 seconds, not %s', v); end if;
    return null;
  end if;
  if left(source, 1) = '@' then
    if source = any (array['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']) then
      return null;
    end if;
    return format('%s is not one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly', source);
  end if;
  fields := string_to_array(source, ' ');
  if cardinality(fields) <> 5 then
    return 'a schedule is 5 fields (minute hour day-of-month month day-of-week), "N seconds" or one of @hourly, @daily, @weekly, @monthly, @yearly';
  end if;
  for i in 1..5 loop
    foreach item in array string_to_array(fields[i], ',') loop
      if item = '$' and i = 3 then continue; end if;
      parts := regexp_match(item, '^(?:(\*)|([a-z0-9]+)(?:-([a-z0-9]+))?)(?:/(\d{1,9}))?$');
      if parts is null then return format('"%s" is not a valid %s', item, field_names[i]); end if;
      if parts[1] is null then
        prev := null;
        foreach bound in array array_remove(array[parts[2], parts[3]], null) loop
          if i = 4 and bound = any (months) then v := array_position(months, bound);
          elsif i = 5 and bound = any (weekdays) then v := array_position(weekdays, bound) - 1;
          elsif bound ~ '^\d{1,9}$' then
            v := bound::int;
            if v < lows[i] or v > highs[i] then
              return format('%s %s is not between %s and %s', field_names[i], v, lows[i], highs[i]);
            end if;
          else return format('"%s" is not a valid %s', bound, field_names[i]);
          end if;
          if prev is not null and prev > v then
            return format('"%s": a %s range runs from low to high', item, field_names[i]);
          end if;
          prev := v;
        end loop;
        -- Vixie cron reads a step only after * or a range.
        if parts[3] is null and parts[4] is not null then
          return format('"%s": a step follows * or a range, as in */%s', item, parts[4]);
        end if;
      end if;
      if parts[4] is not null and (parts[4]::int < 1 or parts[4]::int > highs[i]) then
        return format('"%s": a %s step is 1 to %s', item, field_names[i], highs[i]);
      end if;
    end loop;
  end loop;
  return null;
end
$$;

-- The passwords of the logins jobs run under (src/jobs/cron/logins.ts): one per job owner, a member
-- of only that role, so a command cannot `reset role` back to the server's login.
create table if not exists trellis.cron_logins (
  role_name text primary key,
  owner_name text not null,
  password text not null,
  created_at timestamptz not null default now()
);
revoke all on trellis.cron_logins from public;

do $install$
begin
  if exists (select 1 from pg_catalog.pg_namespace where nspname = 'cron') then
    raise notice 'a schema named cron exists (pg_cron?): Trellis leaves it alone and runs no scheduler';
    return;
  end if;

  create schema cron;
  -- The scheduler looks for this comment: a cron schema without it is not Trellis's (docs/cron.md).
  comment on schema cron is 'trellis: pg_cron-compatible jobs run by the Trellis server (docs/cron.md)';
  -- As with pg_cron, `grant usage on schema cron to some_role` lets a role schedule its own jobs.
  revoke all on schema cron from public;

  create table cron.job (
    jobid bigserial primary key,
    schedule text not null,
    command text not null,
    nodename text not null default 'localhost',
    nodeport integer not null default coalesce(pg_catalog.inet_server_port(), 5432),
    database text not null default pg_catalog.current_database(),
    username text not null default current_user,
    active boolean not null default true,
    jobname text,
    constraint jobname_username_uniq unique (jobname, username)
  );
  create table cron.job_run_details (
    jobid bigint,
    runid bigserial primary key,
    job_pid integer,
    database text,
    username text,
    command text,
    status text,
    return_message text,
    start_time timestamptz,
    end_time timestamptz,
    -- Trellis: the tick this run is for; its uniqueness is what makes a tick run once across instances.
    scheduled_at timestamptz
  );
  create unique index job_run_details_tick on cron.job_run_details (jobid, scheduled_at);
  create index job_run_details_start_time on cron.job_run_details (start_time);

  -- Each role sees and changes its own jobs only (pg_cron's policies); the owner (the server) all.
  alter table cron.job enable row level security;
  alter table cron.job_run_details enable row level security;
  create policy cron_job_policy on cron.job using (username = current_user);
  create policy cron_job_run_details_policy on cron.job_run_details using (username = current_user);
  grant select, insert, update, delete on cron.job to public;
  grant select, delete on cron.job_run_details to public;
  grant usage on sequence cron.job_jobid_seq to public;

  -- Every way a schedule is written (the functions, or the table itself) is checked here.
  -- Security definer: the grammar lives in schema trellis, which the roles that schedule cannot use.
  create function cron.check_schedule() returns trigger language plpgsql security definer
  set search_path = pg_catalog, pg_temp as $fn$
  declare
    problem text := trellis.cron_schedule_problem(new.schedule);
  begin
    if problem is not null then
      raise exception 'invalid schedule "%": %', new.schedule, problem using errcode = '22023';
    end if;
    if new.command is null or btrim(new.command) = '' then
      raise exception 'a job needs a command' using errcode = '22023';
    end if;
    if new.database <> pg_catalog.current_database() then
      raise exception 'database "%" is not this one: Trellis runs jobs in its own database (%)', new.database,
        pg_catalog.current_database() using errcode = '0A000';
    end if;
    return new;
  end
  $fn$;
  create trigger check_schedule before insert or update on cron.job
    for each row execute function cron.check_schedule();

  create function cron.schedule(job_name text, schedule text, command text) returns bigint
  language plpgsql as $fn$
  #variable_conflict use_column
  declare
    id bigint;
  begin
    if job_name is null then
      insert into cron.job (schedule, command) values (schedule.schedule, schedule.command) returning jobid into id;
    else
      insert into cron.job (jobname, schedule, command) values (schedule.job_name, schedule.schedule, schedule.command)
        on conflict (jobname, username) do update set schedule = excluded.schedule, command = excluded.command
        returning jobid into id;
    end if;
    return id;
  end
  $fn$;

  create function cron.schedule(schedule text, command text) returns bigint
  language sql as $fn$ select cron.schedule(null::text, $1, $2) $fn$;

  create function cron.schedule_in_database(job_name text, schedule text, command text, database text,
                                            username text default null, active boolean default true)
  returns bigint language plpgsql as $fn$
  #variable_conflict use_column
  declare
    id bigint;
  begin
    id := cron.schedule(schedule_in_database.job_name, schedule_in_database.schedule, schedule_in_database.command);
    perform cron.alter_job(id, null, null, schedule_in_database.database, schedule_in_database.username,
                           schedule_in_database.active);
    return id;
  end
  $fn$;

  create function cron.unschedule(job_id bigint) returns boolean language plpgsql as $fn$
  begin
    delete from cron.job where jobid = job_id;
    if not found then raise exception 'could not find valid entry for job %', job_id using errcode = 'P0002'; end if;
    return true;
  end
  $fn$;

  create function cron.unschedule(job_name text) returns boolean language plpgsql as $fn$
  begin
    delete from cron.job where jobname = job_name and username = current_user;
    if not found then
      raise exception 'could not find valid entry for job ''%''', job_name using errcode = 'P0002';
    end if;
    return true;
  end
  $fn$;

  create function cron.alter_job(job_id bigint, schedule text default null, command text default null,
                                 database text default null, username text default null,
                                 active boolean default null) returns void
  language plpgsql as $fn$
  #variable_conflict use_column
  begin
    if alter_job.username is not null and alter_job.username <> current_user
       and not coalesce((select rolsuper from pg_catalog.pg_roles where rolname = current_user), false) then
      raise exception 'only a superuser may give a job to another role (%)', alter_job.username using errcode = '42501';
    end if;
    if alter_job.username is not null
       and not exists (select 1 from pg_catalog.pg_roles where rolname = alter_job.username) then
      raise exception 'role "%" does not exist', alter_job.username using errcode = '42704';
    end if;
    update cron.job j set
      schedule = coalesce(alter_job.schedule, j.schedule),
      command = coalesce(alter_job.command, j.command),
      database = coalesce(alter_job.database, j.database),
      username = coalesce(alter_job.username, j.username),
      active = coalesce(alter_job.active, j.active)
    where j.jobid = alter_job.job_id;
    if not found then raise exception 'could not find valid entry for job %', job_id using errcode = 'P0002'; end if;
  end
  $fn$;
end
$install$;
