-- Supabase's Database Webhooks (docs/webhooks.md): a trigger
--   after insert or update or delete on T for each row execute function
--   supabase_functions.http_request('url', 'POST', '{"Content-Type":"application/json"}', '{}', '1000')
-- sends {type, table, schema, record, old_record} once the transaction commits, and notes the request
-- in supabase_functions.hooks. Arguments: url, method (POST or GET), headers and params as JSON
-- text, timeout in milliseconds; the string 'null' stands for an argument left out, as Supabase's.
-- With Trellis's net schema the request is a webhook (retried on failure, signed); under the real
-- pg_net it goes through net.http_post / http_get, as on Supabase. A database that has pg_net and
-- Supabase's own http_request (a Supabase project's database) keeps both as they are.
do $sf$
begin
  if exists (select 1 from pg_catalog.pg_extension where extname = 'pg_net')
     and to_regprocedure('supabase_functions.http_request()') is not null then
    raise notice 'supabase_functions.http_request exists beside pg_net: Trellis leaves it as it is';
    return;
  end if;

  create schema if not exists supabase_functions;
  revoke all on schema supabase_functions from public;
  grant usage on schema supabase_functions to service_role;

  create table if not exists supabase_functions.migrations (
    version text primary key,
    inserted_at timestamptz not null default now()
  );
  insert into supabase_functions.migrations (version) values ('initial') on conflict do nothing;

  create table if not exists supabase_functions.hooks (
    id bigserial primary key,
    hook_table_id integer not null,
    hook_name text not null,
    created_at timestamptz not null default now(),
    request_id bigint
  );
  comment on table supabase_functions.hooks is 'Supabase Functions Hooks: audit trail for triggered hooks.';
  create index if not exists supabase_functions_hooks_request_id_idx on supabase_functions.hooks (request_id);
  create index if not exists supabase_functions_hooks_h_table_id_h_name_idx on supabase_functions.hooks (hook_table_id, hook_name);
  revoke all on supabase_functions.hooks, supabase_functions.migrations from public;
  grant select on supabase_functions.hooks to service_role;

  -- Security definer: a row written by anon or authenticated (the data API) fires the webhook
  -- without those roles being allowed to call net.* themselves.
  create or replace function supabase_functions.http_request() returns trigger
  language plpgsql security definer set search_path = pg_catalog, pg_temp as $f$
  declare
    url text := TG_ARGV[0];
    method text := upper(coalesce(nullif(TG_ARGV[1], 'null'), 'POST'));
    headers jsonb := '{}';
    params jsonb := '{}';
    timeout_ms integer := 1000;
    payload jsonb;
    request_id bigint;
  begin
    if url is null or url = 'null' then
      raise exception 'supabase_functions.http_request: the url argument is missing' using errcode = '22023';
    end if;
    begin
      if TG_ARGV[2] is not null and TG_ARGV[2] <> 'null' then headers := TG_ARGV[2]::jsonb; end if;
      if TG_ARGV[3] is not null and TG_ARGV[3] <> 'null' then params := TG_ARGV[3]::jsonb; end if;
    exception when invalid_text_representation then
      raise exception 'supabase_functions.http_request: headers and params must be JSON text (trigger %)', TG_NAME
        using errcode = '22023';
    end;
    if TG_ARGV[4] is not null and TG_ARGV[4] <> 'null' then
      if TG_ARGV[4] !~ '^\d{1,7}$' then
        raise exception 'supabase_functions.http_request: the timeout must be milliseconds, not %', left(TG_ARGV[4], 50)
          using errcode = '22023';
      end if;
      timeout_ms := TG_ARGV[4]::integer;
    end if;
    if method not in ('POST', 'GET') then
      raise exception 'supabase_functions.http_request: method % is not POST or GET', left(method, 20) using errcode = '22023';
    end if;
    payload := jsonb_build_object(
      'type', TG_OP,
      'table', TG_TABLE_NAME,
      'schema', TG_TABLE_SCHEMA,
      'record', case when TG_OP = 'DELETE' or TG_LEVEL <> 'ROW' then null else to_jsonb(NEW) end,
      'old_record', case when TG_OP = 'INSERT' or TG_LEVEL <> 'ROW' then null else to_jsonb(OLD) end
    );
    if to_regprocedure('net._trellis_enqueue(text,text,jsonb,jsonb,bytea,integer,boolean)') is not null then
      if method = 'GET' then
        request_id := net._trellis_enqueue('GET', url, params, headers, null, timeout_ms, true);
      else
        request_id := net._trellis_enqueue('POST', url, params,
                                           net._trellis_with_header(headers, 'Content-Type', 'application/json'),
                                           convert_to(payload::text, 'UTF8'), timeout_ms, true);
      end if;
    elsif method = 'GET' then
      request_id := net.http_get(url, params, headers, timeout_ms);
    else
      request_id := net.http_post(url, payload, params, headers, timeout_ms);
    end if;
    insert into supabase_functions.hooks (hook_table_id, hook_name, request_id) values (TG_RELID, TG_NAME, request_id);
    return coalesce(NEW, OLD);
  end
  $f$;
  revoke all on function supabase_functions.http_request() from public;
end
$sf$;
