-- Edge functions as targets of the net sender, by name (docs/functions.md "Calling a function from
-- the database"): trellis.invoke_function for SQL and cron jobs, trellis.function_webhook as a
-- database webhook trigger. The row names the function; the sender posts to its own server's
-- /functions/v1/<name> with the service role's key, which never enters the database. Only roles
-- trusted with the service role may queue such a request: anon and authenticated reach it only
-- through a trigger the table's owner made. Skipped under the real pg_net (its worker sends).
do $ft$
begin
  if exists (select 1 from pg_catalog.pg_extension where extname = 'pg_net') then
    return;
  end if;

  alter table net.http_request_queue add column if not exists function_name text;

  create or replace function net._trellis_enqueue_function(
    name text, body bytea, headers jsonb, timeout_milliseconds integer, webhook boolean
  ) returns bigint
  language plpgsql volatile as $fn$
  declare
    request_id bigint;
  begin
    if name is null or name !~ '^[A-Za-z][A-Za-z0-9_-]*$' or length(name) > 128 then
      raise exception 'trellis: % is not a function name: it must start with a letter and hold only letters, digits, "-" and "_"',
        coalesce(quote_literal(left(name, 200)), 'null') using errcode = '22023';
    end if;
    -- The queue's own checks (headers, timeout) on a stand-in URL; the sender builds the real one.
    request_id := net._trellis_enqueue('POST', 'http://function.invalid/', '{}', headers, body, timeout_milliseconds, webhook);
    update net.http_request_queue set function_name = name, url = '/functions/v1/' || name where id = request_id;
    return request_id;
  end
  $fn$;
  revoke all on function net._trellis_enqueue_function(text, bytea, jsonb, integer, boolean) from public;

  create or replace function trellis.invoke_function(
    name text, body jsonb default '{}'::jsonb, headers jsonb default '{}'::jsonb,
    timeout_milliseconds integer default 150000
  ) returns bigint
  language sql volatile security definer set search_path = pg_catalog, pg_temp as $fn$
    select net._trellis_enqueue_function(name, convert_to(body::text, 'UTF8'),
                                         net._trellis_with_header(headers, 'Content-Type', 'application/json'),
                                         timeout_milliseconds, false)
  $fn$;
  revoke all on function trellis.invoke_function(text, jsonb, jsonb, integer) from public;
  grant usage on schema trellis to service_role;
  grant execute on function trellis.invoke_function(text, jsonb, jsonb, integer) to service_role;

  -- A database webhook to a function: `execute function trellis.function_webhook('name'[, 'timeout ms'])`
  -- sends supabase_functions.http_request's payload, retried and signed as webhooks are.
  create or replace function trellis.function_webhook() returns trigger
  language plpgsql security definer set search_path = pg_catalog, pg_temp as $f$
  declare
    timeout_ms integer := 5000;
    payload jsonb;
    request_id bigint;
  begin
    if TG_NARGS < 1 then
      raise exception 'trellis.function_webhook: the function name argument is missing (trigger %)', TG_NAME
        using errcode = '22023';
    end if;
    if TG_NARGS > 1 then
      if TG_ARGV[1] !~ '^\d{1,7}$' then
        raise exception 'trellis.function_webhook: the timeout must be milliseconds, not %', left(TG_ARGV[1], 50)
          using errcode = '22023';
      end if;
      timeout_ms := TG_ARGV[1]::integer;
    end if;
    payload := jsonb_build_object(
      'type', TG_OP,
      'table', TG_TABLE_NAME,
      'schema', TG_TABLE_SCHEMA,
      'record', case when TG_OP = 'DELETE' or TG_LEVEL <> 'ROW' then null else to_jsonb(NEW) end,
      'old_record', case when TG_OP = 'INSERT' or TG_LEVEL <> 'ROW' then null else to_jsonb(OLD) end
    );
    request_id := net._trellis_enqueue_function(TG_ARGV[0], convert_to(payload::text, 'UTF8'),
                                                '{"Content-Type": "application/json"}', timeout_ms, true);
    insert into supabase_functions.hooks (hook_table_id, hook_name, request_id) values (TG_RELID, TG_NAME, request_id);
    return coalesce(NEW, OLD);
  end
  $f$;
  revoke all on function trellis.function_webhook() from public;
end
$ft$;
