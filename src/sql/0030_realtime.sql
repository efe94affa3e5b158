-- Realtime: Supabase's realtime.messages, realtime.topic() and realtime.send(), and the checks
-- private channels run against the project's row-level security policies on realtime.messages.
--
-- A row inserted into realtime.messages with extension 'broadcast' and an event is a broadcast:
-- a trigger NOTIFYs every Trellis instance (channel trellis_realtime), which delivers it to its
-- own sockets. NOTIFY is sent at commit, so a broadcast from a rolled-back transaction never leaves.

create table if not exists realtime.messages (
  id uuid primary key default gen_random_uuid(),
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp without time zone not null default now(),
  inserted_at timestamp without time zone not null default now()
);
create index if not exists messages_inserted_at_idx on realtime.messages (inserted_at);

alter table realtime.messages enable row level security;
grant select, insert on realtime.messages to anon, authenticated;
grant all on realtime.messages to service_role;

-- The topic of the channel being authorised, for policies: `using (realtime.topic() = 'room:1')`.
create or replace function realtime.topic() returns text
language sql stable
as $$
  select nullif(current_setting('realtime.topic', true), '')::text
$$;
grant execute on function realtime.topic() to anon, authenticated, service_role;

create or replace function realtime.trellis_notify_message() returns trigger
language plpgsql security definer set search_path = ''
as $$
declare
  note text;
begin
  if new.extension <> 'broadcast' or new.event is null then
    return null;
  end if;
  note := json_build_object('id', new.id, 'topic', new.topic, 'event', new.event, 'private', coalesce(new.private, false), 'payload', new.payload)::text;
  -- NOTIFY payloads stop at 8000 bytes: a larger message is read back by its id.
  if octet_length(note) > 7800 then
    note := json_build_object('id', new.id)::text;
  end if;
  perform pg_notify('trellis_realtime', note);
  return null;
end
$$;

drop trigger if exists trellis_notify_message on realtime.messages;
create trigger trellis_notify_message after insert on realtime.messages
  for each row execute function realtime.trellis_notify_message();

-- Supabase's signature. It runs as its owner so that a trigger fired by any user can broadcast;
-- a failure is a warning, never the caller's transaction failing, as on Supabase.
create or replace function realtime.send(payload jsonb, event text, topic text, private boolean default true) returns void
language plpgsql security definer set search_path = ''
as $$
begin
  begin
    insert into realtime.messages (payload, event, topic, private, extension) values (payload, event, topic, private, 'broadcast');
  exception when others then
    raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
  end;
end
$$;
revoke execute on function realtime.send(jsonb, text, text, boolean) from public;
grant execute on function realtime.send(jsonb, text, text, boolean) to anon, authenticated, service_role;

-- Probe rows for the read check, inserted as the owner (the caller may not insert) inside the
-- caller's transaction; trellis_policies rolls them back before it returns.
create or replace function realtime.trellis_probe(probe_topic text) returns table (probe_id uuid, probe_extension text)
language sql security definer set search_path = ''
as $$
  insert into realtime.messages (topic, extension, private) values (probe_topic, 'broadcast', true), (probe_topic, 'presence', true)
  returning id, extension
$$;
revoke execute on function realtime.trellis_probe(text) from public;
grant execute on function realtime.trellis_probe(text) to anon, authenticated, service_role;

-- What the caller (the role and claims of the transaction) may do on a private topic, decided by
-- the project's policies on realtime.messages as Supabase decides it: read = the select policy lets
-- the caller see a row of that topic and extension; write = the insert policy lets it add one.
-- Nothing it inserts survives the call.
create or replace function realtime.trellis_policies(
  check_topic text,
  out broadcast_read boolean, out presence_read boolean, out broadcast_write boolean, out presence_write boolean
)
language plpgsql security invoker set search_path = ''
as $$
declare
  probe record;
  ext text;
begin
  broadcast_read := false;
  presence_read := false;
  broadcast_write := false;
  presence_write := false;
  perform set_config('realtime.topic', check_topic, true);
  begin
    for probe in select * from realtime.trellis_probe(check_topic) loop
      if exists (select 1 from realtime.messages m where m.id = probe.probe_id) then
        if probe.probe_extension = 'broadcast' then broadcast_read := true; else presence_read := true; end if;
      end if;
    end loop;
    raise exception using errcode = 'TRL01';
  exception when sqlstate 'TRL01' then
    null;
  end;
  foreach ext in array array['broadcast', 'presence'] loop
    begin
      insert into realtime.messages (topic, extension, private) values (check_topic, ext, true);
      if ext = 'broadcast' then broadcast_write := true; else presence_write := true; end if;
      raise exception using errcode = 'TRL01';
    exception
      when sqlstate 'TRL01' then null;
      when insufficient_privilege then null;
    end;
  end loop;
end
$$;
revoke execute on function realtime.trellis_policies(text) from public;
grant execute on function realtime.trellis_policies(text) to anon, authenticated, service_role;

-- Names this project's realtime traffic on a Redis that other projects may share: every instance
-- on this database reads the same id, however its DATABASE_URL spells the server's address.
create table if not exists trellis.realtime_cluster (
  id uuid primary key default gen_random_uuid(),
  singleton boolean not null unique default true check (singleton)
);
insert into trellis.realtime_cluster default values on conflict (singleton) do nothing;
