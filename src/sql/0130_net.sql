-- pg_net's public surface (docs/webhooks.md): net.http_get / http_post / http_delete queue a request
-- in net.http_request_queue and return its id; the Trellis server (src/jobs/webhooks) sends it once
-- the transaction commits and writes the outcome to net._http_response under the same id. A
-- rolled-back transaction leaves no row, so nothing is sent, as with pg_net.
--
-- A database that has the real pg_net extension keeps it: nothing here is made, and the server
-- does not run its sender (it warns once at start).
do $net$
begin
  if exists (select 1 from pg_catalog.pg_extension where extname = 'pg_net') then
    raise notice 'the pg_net extension is installed: Trellis leaves the net schema to it';
    return;
  end if;

  create schema if not exists net;
  comment on schema net is 'pg_net''s functions and tables, served by Trellis (docs/webhooks.md)';
  revoke all on schema net from public;
  -- As Supabase grants it (extensions.grant_pg_net_access): the functions to the API roles, the
  -- tables (what was sent, what came back) to service_role only.
  grant usage on schema net to anon, authenticated, service_role;

  create table if not exists net.http_request_queue (
    id bigserial primary key,
    method text not null check (method in ('GET', 'POST', 'DELETE')),
    url text not null,
    headers jsonb not null default '{}',
    body bytea,
    timeout_milliseconds integer not null,
    -- Trellis's own columns: a database webhook (retried, signed), its Standard Webhooks id (the
    -- same on every attempt), attempts so far, the earliest next attempt, and the lease of the
    -- instance sending it (another instance takes the row over only once the lease has run out).
    webhook boolean not null default false,
    message_id uuid not null default gen_random_uuid(),
    attempts integer not null default 0,
    not_before timestamptz not null default now(),
    claimed_until timestamptz
  );
  create index if not exists http_request_queue_due on net.http_request_queue (not_before);
  revoke all on net.http_request_queue from public;
  grant select on net.http_request_queue to service_role;

  -- pg_net's is unlogged; this one is logged, since logical replication (`trellis move --follow`)
  -- cannot publish an unlogged table. Rows live NET_RESPONSE_TTL.
  create table if not exists net._http_response (
    id bigint primary key,
    status_code integer,
    content_type text,
    headers jsonb,
    content text,
    timed_out boolean,
    error_msg text,
    created timestamptz not null default now()
  );
  create index if not exists _http_response_created on net._http_response (created);
  revoke all on net._http_response from public;
  grant select, delete on net._http_response to service_role;
end
$net$;
