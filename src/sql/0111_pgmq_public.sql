-- Supabase's queue API for clients: schema pgmq_public, which the data API exposes (so
-- `supabase.schema('pgmq_public').rpc('send', …)` works), with Supabase's function and argument
-- names. SECURITY INVOKER, as on Supabase: the caller's grants on pgmq.q_<name> (and pgmq.a_<name>
-- for archive) decide, e.g. `grant select, insert, update on pgmq.q_jobs to authenticated`.

create schema if not exists pgmq_public;
grant usage on schema pgmq_public to anon, authenticated, service_role;

create or replace function pgmq_public.send(queue_name text, message jsonb, sleep_seconds integer default 0)
returns setof bigint
language sql security invoker as $$ select * from pgmq.send(queue_name, message, sleep_seconds) $$;

create or replace function pgmq_public.send_batch(queue_name text, messages jsonb[], sleep_seconds integer default 0)
returns setof bigint
language sql security invoker as $$ select * from pgmq.send_batch(queue_name, messages, sleep_seconds) $$;

create or replace function pgmq_public.read(queue_name text, sleep_seconds integer, n integer)
returns setof pgmq.message_record
language sql security invoker as $$ select * from pgmq.read(queue_name, sleep_seconds, n) $$;

create or replace function pgmq_public.pop(queue_name text)
returns setof pgmq.message_record
language sql security invoker as $$ select * from pgmq.pop(queue_name) $$;

create or replace function pgmq_public.archive(queue_name text, message_id bigint)
returns boolean
language sql security invoker as $$ select pgmq.archive(queue_name, message_id) $$;

create or replace function pgmq_public.delete(queue_name text, message_id bigint)
returns boolean
language sql security invoker as $$ select pgmq.delete(queue_name, message_id) $$;

grant execute on all functions in schema pgmq_public to anon, authenticated, service_role;
