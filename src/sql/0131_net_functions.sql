-- net.http_get / http_post / http_delete with pg_net's signatures and defaults, and what they share:
-- checks that refuse a bad call with a message naming what is wrong (22023), the query string made
-- from `params`, and the NOTIFY that wakes the sender at commit. Skipped under the real pg_net.
do $net$
begin
  if exists (select 1 from pg_catalog.pg_extension where extname = 'pg_net') then
    return;
  end if;

  -- Percent-encoding of one query-string component (RFC 3986 unreserved characters stay).
  create or replace function net._trellis_urlencode(value text) returns text
  language sql immutable strict as $fn$
    select coalesce(string_agg(
             case when b between 48 and 57 or b between 65 and 90 or b between 97 and 122 or b in (45, 46, 95, 126)
                  then chr(b) else '%' || upper(lpad(to_hex(b), 2, '0')) end, '' order by i), '')
      from (select i, get_byte(bytes, i) as b
              from (select convert_to(value, 'UTF8') as bytes) v,
                   generate_series(0, octet_length(bytes) - 1) as i) each_byte
  $fn$;

  -- Queues one request after checking it; `webhook` marks a database webhook (retried and signed).
  create or replace function net._trellis_enqueue(
    method text, url text, params jsonb, headers jsonb, body bytea, timeout_milliseconds integer, webhook boolean
  ) returns bigint
  language plpgsql volatile as $fn$
  declare
    query text;
    bad text;
    request_id bigint;
  begin
    if url is null or url !~* '^https?://[^/?#[:space:]]' then
      raise exception 'net: url must be an http:// or https:// URL, not %', coalesce(left(url, 200), 'null')
        using errcode = '22023';
    end if;
    if url ~ '[[:space:][:cntrl:]]' then
      raise exception 'net: url must not contain spaces or control characters' using errcode = '22023';
    end if;
    if headers is null or jsonb_typeof(headers) <> 'object' then
      raise exception 'net: headers must be a JSON object of strings, not %', coalesce(jsonb_typeof(headers), 'null')
        using errcode = '22023';
    end if;
    select key into bad from jsonb_each(headers)
     where jsonb_typeof(value) <> 'string' or key !~ '^[!#$%&''*+.^_`|~0-9A-Za-z-]+$'
        or value #>> '{}' ~ '[\r\n]' limit 1;
    if found then
      raise exception 'net: header % must be a token name with a string value on one line', left(bad, 100)
        using errcode = '22023';
    end if;
    if params is null or jsonb_typeof(params) <> 'object' then
      raise exception 'net: params must be a JSON object, not %', coalesce(jsonb_typeof(params), 'null')
        using errcode = '22023';
    end if;
    select key into bad from jsonb_each(params) where jsonb_typeof(value) not in ('string', 'number', 'boolean') limit 1;
    if found then
      raise exception 'net: param % must be a string, number or boolean', left(bad, 100) using errcode = '22023';
    end if;
    if timeout_milliseconds is null or timeout_milliseconds not between 1 and 3600000 then
      raise exception 'net: timeout_milliseconds must be between 1 and 3600000, not %',
        coalesce(timeout_milliseconds::text, 'null') using errcode = '22023';
    end if;
    select string_agg(net._trellis_urlencode(key) || '=' || net._trellis_urlencode(value #>> '{}'), '&' order by ord)
      into query from jsonb_each(params) with ordinality as p(key, value, ord);
    if query is not null then
      url := url || case when position('?' in url) > 0 then '&' else '?' end || query;
    end if;
    insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds, webhook)
    values (method, url, headers, body, timeout_milliseconds, webhook)
    returning id into request_id;
    return request_id;
  end
  $fn$;
  revoke all on function net._trellis_urlencode(text) from public;
  revoke all on function net._trellis_enqueue(text, text, jsonb, jsonb, bytea, integer, boolean) from public;

  -- One header named case-insensitively, added when absent.
  create or replace function net._trellis_with_header(headers jsonb, name text, value text) returns jsonb
  language sql immutable as $fn$
    select case when jsonb_typeof(headers) = 'object'
                 and not exists (select 1 from jsonb_object_keys(headers) k where lower(k) = lower(name))
                then headers || jsonb_build_object(name, value) else headers end
  $fn$;
  revoke all on function net._trellis_with_header(jsonb, text, text) from public;

  create or replace function net.http_get(
    url text, params jsonb default '{}'::jsonb, headers jsonb default '{}'::jsonb,
    timeout_milliseconds integer default 5000
  ) returns bigint
  language sql volatile security definer set search_path = pg_catalog, pg_temp as $fn$
    select net._trellis_enqueue('GET', url, params, headers, null, timeout_milliseconds, false)
  $fn$;

  create or replace function net.http_post(
    url text, body jsonb default '{}'::jsonb, params jsonb default '{}'::jsonb,
    headers jsonb default '{"Content-Type": "application/json"}'::jsonb, timeout_milliseconds integer default 5000
  ) returns bigint
  language sql volatile security definer set search_path = pg_catalog, pg_temp as $fn$
    select net._trellis_enqueue('POST', url, params, net._trellis_with_header(headers, 'Content-Type', 'application/json'),
                                convert_to(body::text, 'UTF8'), timeout_milliseconds, false)
  $fn$;

  create or replace function net.http_delete(
    url text, params jsonb default '{}'::jsonb, headers jsonb default '{}'::jsonb,
    timeout_milliseconds integer default 5000, body jsonb default null
  ) returns bigint
  language sql volatile security definer set search_path = pg_catalog, pg_temp as $fn$
    select net._trellis_enqueue('DELETE', url, params,
                                case when body is null then headers
                                     else net._trellis_with_header(headers, 'Content-Type', 'application/json') end,
                                convert_to(body::text, 'UTF8'), timeout_milliseconds, false)
  $fn$;
  revoke all on function net.http_get(text, jsonb, jsonb, integer) from public;
  revoke all on function net.http_post(text, jsonb, jsonb, jsonb, integer) from public;
  revoke all on function net.http_delete(text, jsonb, jsonb, integer, jsonb) from public;
  -- Supabase grants these to anon, authenticated and service_role: the data API does not expose the
  -- net schema, so they are reached only through functions the project writes.
  grant execute on function net.http_get(text, jsonb, jsonb, integer) to anon, authenticated, service_role;
  grant execute on function net.http_post(text, jsonb, jsonb, jsonb, integer) to anon, authenticated, service_role;
  grant execute on function net.http_delete(text, jsonb, jsonb, integer, jsonb) to anon, authenticated, service_role;

  -- NOTIFY is delivered at commit: the sender wakes once the request may be sent, never before.
  create or replace function net._trellis_wake() returns trigger
  language plpgsql as $fn$
  begin
    perform pg_notify('trellis_net', '');
    return null;
  end
  $fn$;
  revoke all on function net._trellis_wake() from public;
  drop trigger if exists trellis_wake on net.http_request_queue;
  create trigger trellis_wake after insert on net.http_request_queue
    for each statement execute function net._trellis_wake();
end
$net$;
