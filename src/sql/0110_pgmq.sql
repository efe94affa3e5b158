-- Queues with pgmq's names (docs/queues.md): schema pgmq, one table per queue (pgmq.q_<name>) and
-- its archive (pgmq.a_<name>), and the functions Supabase Queues documents, with pgmq's signatures
-- and result columns, so SQL written for a Supabase project runs as it is. Our own code: plain
-- SQL over those tables. Every function but the dead-letter step runs as its caller
-- (SECURITY INVOKER), so the caller's grants on pgmq.q_<name> decide who may send or read.

create schema if not exists pgmq;
grant usage on schema pgmq to anon, authenticated, service_role;

create table if not exists pgmq.meta (
  queue_name varchar primary key,
  is_partitioned boolean not null default false,
  is_unlogged boolean not null default false,
  created_at timestamptz not null default now()
);
grant select on pgmq.meta to anon, authenticated, service_role;

create type pgmq.message_record as (
  msg_id bigint,
  read_ct integer,
  enqueued_at timestamptz,
  vt timestamptz,
  message jsonb
);

create type pgmq.queue_record as (
  queue_name varchar,
  is_partitioned boolean,
  is_unlogged boolean,
  created_at timestamptz
);

create type pgmq.metrics_result as (
  queue_name text,
  queue_length bigint,
  newest_msg_age_sec integer,
  oldest_msg_age_sec integer,
  total_messages bigint,
  scrape_time timestamptz,
  queue_visible_length bigint
);

-- Trellis's addition (pgmq has none): after `max_reads` deliveries, a message that becomes visible
-- again goes to `dead_letter_queue` instead of being read once more. Not readable by API roles.
create table if not exists trellis.queue_settings (
  queue_name varchar primary key references pgmq.meta (queue_name) on delete cascade,
  max_reads integer not null check (max_reads > 0),
  dead_letter_queue varchar not null references pgmq.meta (queue_name) on delete cascade,
  dead_lettered bigint not null default 0,
  check (dead_letter_queue <> queue_name)
);

-- The one place a queue name becomes an identifier: lower-cased as pgmq does, and only letters,
-- digits and underscores, so nothing a caller passes can reach SQL text but a quoted table name.
create or replace function pgmq._table(queue_name text, prefix text) returns text
language plpgsql immutable as $$
declare
  name text := lower(queue_name);
begin
  if name is null or name !~ '^[a-z0-9_]{1,47}$' then
    raise exception 'invalid queue name %', coalesce(quote_literal(queue_name), 'null')
      using errcode = '22023', hint = 'A queue name is 1 to 47 letters, digits or underscores.';
  end if;
  return format('pgmq.%I', prefix || '_' || name);
end $$;

-- The queue's table (prefix 'q') or archive ('a'), refused with a clear error when there is none.
create or replace function pgmq._existing(queue_name text, prefix text) returns regclass
language plpgsql stable as $$
declare
  rel regclass := to_regclass(pgmq._table(queue_name, prefix));
begin
  if rel is null then
    raise exception 'queue % does not exist', quote_literal(queue_name)
      using errcode = '42P01', hint = 'Create it with pgmq.create(queue_name).';
  end if;
  return rel;
end $$;

create or replace function pgmq._create(queue_name text, unlogged boolean) returns void
language plpgsql as $$
declare
  q text := pgmq._table(queue_name, 'q');
  a text := pgmq._table(queue_name, 'a');
  kind text := case when unlogged then 'unlogged' else '' end;
begin
  execute format('create %s table if not exists %s (
      msg_id bigint generated always as identity primary key,
      read_ct integer not null default 0,
      enqueued_at timestamptz not null default now(),
      vt timestamptz not null,
      message jsonb)', kind, q);
  execute format('create %s table if not exists %s (
      msg_id bigint primary key,
      read_ct integer not null default 0,
      enqueued_at timestamptz not null default now(),
      archived_at timestamptz not null default now(),
      vt timestamptz not null,
      message jsonb)', kind, a);
  execute format('create index if not exists %I on %s (vt)', 'q_' || lower(queue_name) || '_vt_idx', q);
  execute format('create index if not exists %I on %s (archived_at)', 'a_' || lower(queue_name) || '_archived_idx', a);
  -- As on Supabase: the service role may use every queue; anon and authenticated only by a grant.
  execute format('grant select, insert, update, delete on %s, %s to service_role', q, a);
  execute format('grant usage, select on sequence %s to service_role',
                 pg_catalog.pg_get_serial_sequence(q, 'msg_id'));
  insert into pgmq.meta (queue_name, is_unlogged) values (lower(queue_name), unlogged)
    on conflict on constraint meta_pkey do nothing;
end $$;

create or replace function pgmq.create(queue_name text) returns void
language sql as $$ select pgmq._create(queue_name, false) $$;

create or replace function pgmq.create_unlogged(queue_name text) returns void
language sql as $$ select pgmq._create(queue_name, true) $$;

create or replace function pgmq.drop_queue(queue_name text) returns boolean
language plpgsql as $$
begin
  if to_regclass(pgmq._table(queue_name, 'q')) is null then
    return false;
  end if;
  execute format('drop table if exists %s, %s', pgmq._table(queue_name, 'q'), pgmq._table(queue_name, 'a'));
  delete from pgmq.meta where meta.queue_name = lower(drop_queue.queue_name);
  return true;
end $$;

create or replace function pgmq.list_queues() returns setof pgmq.queue_record
language sql stable as $$
  select queue_name, is_partitioned, is_unlogged, created_at from pgmq.meta order by queue_name
$$;

create or replace function pgmq.send_batch(queue_name text, msgs jsonb[], delay integer default 0) returns setof bigint
language plpgsql as $$
begin
  if delay is null or delay < 0 then
    raise exception 'delay must be 0 or more seconds, not %', coalesce(delay::text, 'null') using errcode = '22023';
  end if;
  return query execute format(
    'insert into %s (vt, message) select clock_timestamp() + make_interval(secs => $1), m
       from unnest($2::jsonb[]) with ordinality as t (m, i) order by i returning msg_id',
    pgmq._existing(queue_name, 'q')) using delay, msgs;
end $$;

create or replace function pgmq.send(queue_name text, msg jsonb, delay integer default 0) returns setof bigint
language sql as $$ select * from pgmq.send_batch(queue_name, array[msg], delay) $$;

-- pgmq 1.5's other form of delay: visible from a moment rather than after some seconds.
create or replace function pgmq.send_batch(queue_name text, msgs jsonb[], delay timestamptz) returns setof bigint
language plpgsql as $$
begin
  if delay is null then
    raise exception 'delay must be a moment, not null' using errcode = '22023';
  end if;
  return query execute format(
    'insert into %s (vt, message) select greatest($1, clock_timestamp()), m
       from unnest($2::jsonb[]) with ordinality as t (m, i) order by i returning msg_id',
    pgmq._existing(queue_name, 'q')) using delay, msgs;
end $$;

create or replace function pgmq.send(queue_name text, msg jsonb, delay timestamptz) returns setof bigint
language sql as $$ select * from pgmq.send_batch(queue_name, array[msg], delay) $$;

-- The dead-letter step of a read: moves the queue's messages that were read `max_reads` times and
-- are visible again into its dead-letter queue, and answers max_reads (null: no such rule). It runs
-- as its owner, since readers need no grant on the settings nor on the dead-letter queue; it only
-- moves what the rule says is dead, so calling it directly changes nothing a read would not.
create or replace function pgmq._dead_letter(queue_name text) returns integer
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
  rule record;
  moved bigint;
begin
  select s.max_reads, s.dead_letter_queue into rule from trellis.queue_settings s
   where s.queue_name = lower(_dead_letter.queue_name);
  if not found then
    return null;
  end if;
  execute format(
    'with due as (select msg_id from %s where vt <= clock_timestamp() and read_ct >= $1 for update skip locked),
          gone as (delete from %1$s q using due where q.msg_id = due.msg_id returning q.message, q.msg_id)
     insert into %s (vt, message) select clock_timestamp(), message from gone order by msg_id',
    pgmq._existing(queue_name, 'q'), pgmq._existing(rule.dead_letter_queue, 'q')) using rule.max_reads;
  get diagnostics moved = row_count;
  if moved > 0 then
    update trellis.queue_settings s set dead_lettered = s.dead_lettered + moved
     where s.queue_name = lower(_dead_letter.queue_name);
  end if;
  return rule.max_reads;
end $$;

create or replace function pgmq.read(queue_name text, vt integer, qty integer, conditional jsonb default '{}')
returns setof pgmq.message_record
language plpgsql as $$
declare
  q regclass := pgmq._existing(queue_name, 'q');
  max_reads integer;
begin
  if vt is null or vt < 0 or qty is null or qty < 1 then
    raise exception 'read needs vt >= 0 seconds and qty >= 1 (got vt %, qty %)', vt, qty using errcode = '22023';
  end if;
  -- Only a caller who may take messages runs the dead-letter step (others fail below, as they should).
  if pg_catalog.has_table_privilege(q, 'UPDATE') then
    max_reads := pgmq._dead_letter(queue_name);
  end if;
  return query execute format(
    'with picked as (
       select msg_id from %1$s
        where vt <= clock_timestamp() and ($3 is null or read_ct < $3) and ($4 = ''{}'' or message @> $4)
        order by msg_id limit $1 for update skip locked)
     update %1$s m set vt = clock_timestamp() + make_interval(secs => $2), read_ct = m.read_ct + 1
       from picked where m.msg_id = picked.msg_id
     returning m.msg_id, m.read_ct, m.enqueued_at, m.vt, m.message', q)
    using qty, vt, max_reads, coalesce(conditional, '{}');
end $$;

create or replace function pgmq.read_with_poll(queue_name text, vt integer, qty integer,
  max_poll_seconds integer default 5, poll_interval_ms integer default 100, conditional jsonb default '{}')
returns setof pgmq.message_record
language plpgsql as $$
declare
  until timestamptz := clock_timestamp() + make_interval(secs => max_poll_seconds);
  got integer;
begin
  loop
    return query select * from pgmq.read(queue_name, vt, qty, conditional);
    get diagnostics got = row_count;
    exit when got > 0 or clock_timestamp() >= until;
    perform pg_sleep(poll_interval_ms / 1000.0);
  end loop;
end $$;

create or replace function pgmq.pop(queue_name text) returns setof pgmq.message_record
language plpgsql as $$
begin
  return query execute format(
    'with picked as (select msg_id from %1$s where vt <= clock_timestamp() order by msg_id limit 1 for update skip locked)
     delete from %1$s m using picked where m.msg_id = picked.msg_id
     returning m.msg_id, m.read_ct, m.enqueued_at, m.vt, m.message', pgmq._existing(queue_name, 'q'));
end $$;

create or replace function pgmq.archive(queue_name text, msg_ids bigint[]) returns setof bigint
language plpgsql as $$
begin
  return query execute format(
    'with gone as (delete from %s where msg_id = any($1) returning msg_id, read_ct, enqueued_at, vt, message)
     insert into %s (msg_id, read_ct, enqueued_at, vt, message)
     select msg_id, read_ct, enqueued_at, vt, message from gone returning msg_id',
    pgmq._existing(queue_name, 'q'), pgmq._existing(queue_name, 'a')) using msg_ids;
end $$;

create or replace function pgmq.archive(queue_name text, msg_id bigint) returns boolean
language sql as $$ select exists (select from pgmq.archive(queue_name, array[msg_id])) $$;

create or replace function pgmq.delete(queue_name text, msg_ids bigint[]) returns setof bigint
language plpgsql as $$
begin
  return query execute format('delete from %s where msg_id = any($1) returning msg_id',
                              pgmq._existing(queue_name, 'q')) using msg_ids;
end $$;

create or replace function pgmq.delete(queue_name text, msg_id bigint) returns boolean
language sql as $$ select exists (select from pgmq.delete(queue_name, array[msg_id])) $$;

create or replace function pgmq.set_vt(queue_name text, msg_id bigint, vt integer) returns setof pgmq.message_record
language plpgsql as $$
begin
  if vt is null then
    raise exception 'vt must be a number of seconds' using errcode = '22023';
  end if;
  return query execute format(
    'update %s set vt = clock_timestamp() + make_interval(secs => $2) where msg_id = $1
     returning msg_id, read_ct, enqueued_at, vt, message', pgmq._existing(queue_name, 'q')) using msg_id, vt;
end $$;

create or replace function pgmq.purge_queue(queue_name text) returns bigint
language plpgsql as $$
declare
  purged bigint;
begin
  execute format('delete from %s', pgmq._existing(queue_name, 'q'));
  get diagnostics purged = row_count;
  return purged;
end $$;

create or replace function pgmq.metrics(queue_name text) returns pgmq.metrics_result
language plpgsql as $$
declare
  q regclass := pgmq._existing(queue_name, 'q');
  result pgmq.metrics_result;
begin
  execute format(
    'select $1, count(*), extract(epoch from clock_timestamp() - max(enqueued_at))::integer,
            extract(epoch from clock_timestamp() - min(enqueued_at))::integer,
            coalesce(pg_catalog.pg_sequence_last_value(pg_catalog.pg_get_serial_sequence($2, ''msg_id'')::regclass), 0),
            clock_timestamp(), count(*) filter (where vt <= clock_timestamp())
       from %s', q) into result using lower(queue_name), q::text;
  return result;
end $$;

create or replace function pgmq.metrics_all() returns setof pgmq.metrics_result
language sql as $$ select (pgmq.metrics(queue_name)).* from pgmq.meta order by queue_name $$;

-- Trellis: the dead-letter rule of a queue (null max_reads removes it). The dead-letter queue is
-- created when missing. Only the server's role (and whoever it grants) may set rules.
create or replace function trellis.set_queue_dead_letter(queue_name text, max_reads integer,
  dead_letter_queue text default null) returns void
language plpgsql as $$
declare
  dlq text := lower(coalesce(dead_letter_queue, queue_name || '_dlq'));
begin
  perform pgmq._existing(queue_name, 'q');
  if max_reads is null then
    delete from trellis.queue_settings s where s.queue_name = lower(set_queue_dead_letter.queue_name);
    return;
  end if;
  if max_reads < 1 then
    raise exception 'max_reads must be 1 or more, not %', max_reads using errcode = '22023';
  end if;
  perform pgmq.create(dlq);
  insert into trellis.queue_settings (queue_name, max_reads, dead_letter_queue)
  values (lower(queue_name), max_reads, dlq)
  on conflict on constraint queue_settings_pkey
  do update set max_reads = excluded.max_reads, dead_letter_queue = excluded.dead_letter_queue;
end $$;
revoke execute on function trellis.set_queue_dead_letter(text, integer, text) from public;

-- Stuck messages, for an operator: read at least `min_reads` times and still in their queue (a
-- consumer that keeps failing or dying on them), with when they are next visible.
create or replace function trellis.stuck_messages(min_reads integer default 2)
returns table (queue_name text, msg_id bigint, read_ct integer, enqueued_at timestamptz, vt timestamptz, message jsonb)
language plpgsql stable as $$
declare
  m record;
begin
  for m in select meta.queue_name from pgmq.meta order by 1 loop
    return query execute format(
      'select $1::text, msg_id, read_ct, enqueued_at, vt, message from %s where read_ct >= $2 order by msg_id',
      pgmq._existing(m.queue_name, 'q')) using m.queue_name, min_reads;
  end loop;
end $$;
revoke execute on function trellis.stuck_messages(integer) from public;

-- Dead messages, for an operator: what each queue's dead-letter rule moved, and what waits there.
create or replace view trellis.queue_dead_letters as
  select s.queue_name, s.max_reads, s.dead_letter_queue, s.dead_lettered,
         (pgmq.metrics(s.dead_letter_queue)).queue_length as waiting
    from trellis.queue_settings s;
