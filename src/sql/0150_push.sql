-- Web push (docs/push.md): the project's VAPID key pair, users' browser subscriptions, and
-- trellis.send_push, which queues one job of Trellis's runner per subscription (src/jobs/push).

create schema if not exists trellis;

-- One key pair for the whole project, made at the first start when PUSH_VAPID_* are unset: a
-- browser's subscription is bound to the public key it was made with, so every instance behind a
-- load balancer must sign with the same private key. Readable by the server's login only.
create table if not exists trellis.push_vapid_keys (
  singleton boolean primary key default true check (singleton),
  public_key text not null,
  private_key text not null,
  created_at timestamptz not null default now()
);
revoke all on trellis.push_vapid_keys from public, anon, authenticated, service_role;

create table if not exists trellis.push_subscriptions (
  id bigint generated always as identity primary key,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  endpoint text not null unique,
  p256dh text not null,
  auth text not null,
  user_agent text,
  created_at timestamptz not null default now()
);
create index if not exists push_subscriptions_user_idx on trellis.push_subscriptions (user_id);
alter table trellis.push_subscriptions enable row level security;
revoke all on trellis.push_subscriptions from public, anon, authenticated, service_role;
-- Defence in depth: the API roles reach the table through trellis_push.subscriptions only (below),
-- but were it ever granted, a user would still see, add and remove only their own rows.
drop policy if exists own_subscriptions on trellis.push_subscriptions;
create policy own_subscriptions on trellis.push_subscriptions for all to authenticated
  using (user_id = auth.uid()) with check (user_id = auth.uid());

-- Bad input is refused with a message that names the field (SQLSTATE 22023: the data API's 400).
-- A browser's keys (PushSubscription.toJSON()) are unpadded base64url: p256dh a P-256 point,
-- uncompressed (65 bytes, 0x04 first), auth 16 bytes. web-push sends over HTTPS only, so an
-- endpoint must be an https:// URL (loopback included).
create or replace function trellis.check_push_subscription() returns trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
begin
  if new.endpoint is null or length(new.endpoint) > 2048 or new.endpoint !~ '^https://[^/?#[:space:]]+(/[^[:space:]]*)?$' then
    raise exception 'endpoint must be an https:// URL of at most 2048 characters' using errcode = '22023';
  end if;
  new.p256dh := rtrim(new.p256dh, '=');
  new.auth := rtrim(new.auth, '=');
  if new.p256dh is null or new.p256dh !~ '^B[A-Za-z0-9_-]{86}$' then
    raise exception 'p256dh must be the browser''s P-256 public key: 65 bytes, uncompressed, base64url (87 characters)'
      using errcode = '22023';
  end if;
  if new.auth is null or new.auth !~ '^[A-Za-z0-9_-]{22}$' then
    raise exception 'auth must be the subscription''s 16-byte secret, base64url (22 characters)' using errcode = '22023';
  end if;
  if new.user_agent is not null and length(new.user_agent) > 512 then
    raise exception 'user_agent must be at most 512 characters' using errcode = '22023';
  end if;
  -- The same browser subscribing again (another sign-in on it, or fresh keys) takes its endpoint
  -- over: only that browser knows the endpoint, an unguessable URL of its push service.
  if tg_op = 'INSERT' then
    delete from trellis.push_subscriptions where endpoint = new.endpoint;
  end if;
  return new;
end $$;
drop trigger if exists check_push_subscription on trellis.push_subscriptions;
create trigger check_push_subscription before insert or update on trellis.push_subscriptions
  for each row execute function trellis.check_push_subscription();
revoke execute on function trellis.check_push_subscription() from public;

-- The client's door (the data API exposes schema trellis_push, not trellis):
-- supabase.schema('trellis_push').from('subscriptions').insert({ endpoint, p256dh, auth }).
-- The view's filter and its check option hold a user to their own rows (PostgreSQL 14 has no
-- security_invoker views); security_barrier keeps other rows from leaking through a function.
create schema if not exists trellis_push;
grant usage on schema trellis_push to authenticated, service_role;
create or replace view trellis_push.subscriptions with (security_barrier) as
  select id, endpoint, p256dh, auth, user_agent, created_at
    from trellis.push_subscriptions
   where user_id = auth.uid()
  with local check option;
comment on view trellis_push.subscriptions is 'The signed-in user''s web push subscriptions (docs/push.md).';
revoke all on trellis_push.subscriptions from public, anon, authenticated, service_role;
grant select, delete on trellis_push.subscriptions to authenticated;
grant insert (endpoint, p256dh, auth, user_agent) on trellis_push.subscriptions to authenticated;

-- What a push service accepts: a 4096-byte record, less the aes128gcm header (86 bytes), the
-- tag (16) and the padding delimiter (1).
create or replace function trellis.send_push(
  user_id uuid,
  payload jsonb,
  ttl integer default 86400,
  urgency text default 'normal',
  topic text default null
) returns integer
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
  bytes integer;
  queued integer := 0;
  sub record;
begin
  if send_push.user_id is null then
    raise exception 'user_id must not be null' using errcode = '22023';
  end if;
  if send_push.payload is null then
    raise exception 'payload must not be null' using errcode = '22023';
  end if;
  bytes := octet_length(send_push.payload::text);
  if bytes > 3993 then
    raise exception 'push payload is % bytes of JSON; a push carries at most 3993', bytes
      using errcode = '22023', hint = 'send an id and let the service worker fetch the rest';
  end if;
  if ttl is null or ttl < 0 or ttl > 2419200 then
    raise exception 'ttl must be between 0 and 2419200 seconds (28 days), not %', coalesce(ttl::text, 'null')
      using errcode = '22023';
  end if;
  if urgency is null or urgency not in ('very-low', 'low', 'normal', 'high') then
    raise exception 'urgency must be very-low, low, normal or high, not %', coalesce(quote_literal(urgency), 'null')
      using errcode = '22023';
  end if;
  if topic is not null and topic !~ '^[A-Za-z0-9_-]{1,32}$' then
    raise exception 'topic must be 1 to 32 base64url characters (letters, digits, ''-'', ''_'')' using errcode = '22023';
  end if;
  -- One job of the runner per subscription (trellis.add_job, src/jobs/queue/sql.ts), in the
  -- caller's transaction; the body as text, so that the bytes measured above are the bytes sent.
  for sub in select s.id from trellis.push_subscriptions s where s.user_id = send_push.user_id loop
    perform trellis.add_job('push-send', jsonb_build_object('subscription', sub.id, 'body', send_push.payload::text,
                                                            'ttl', ttl, 'urgency', urgency, 'topic', topic));
    queued := queued + 1;
  end loop;
  return queued;
end $$;
comment on function trellis.send_push(uuid, jsonb, integer, text, text) is
  'Queues a web push of payload to each of the user''s subscriptions; how many were queued (docs/push.md).';
revoke execute on function trellis.send_push(uuid, jsonb, integer, text, text) from public;

-- service_role's door through the data API: supabase.schema('trellis_push').rpc('send', …).
create or replace function trellis_push.send(
  user_id uuid,
  payload jsonb,
  ttl integer default 86400,
  urgency text default 'normal',
  topic text default null
) returns integer
language sql security definer set search_path = pg_catalog, pg_temp as $$
  select trellis.send_push(user_id, payload, ttl, urgency, topic)
$$;
revoke execute on function trellis_push.send(uuid, jsonb, integer, text, text) from public;
grant execute on function trellis_push.send(uuid, jsonb, integer, text, text) to service_role;
