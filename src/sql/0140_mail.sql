-- App email (docs/mail.md): trellis.send_email(to, template, data) queues one mail; a job of
-- Trellis's runner (task send-email, added with the runner's trellis.add_job, src/jobs/queue/sql.ts)
-- delivers it through the provider router. Every table here is
-- the server's: service_role may read the log, nobody else sees any of it.

-- The project's templates (supabase/templates/*.html), copied here by every start, so that SQL can
-- refuse an unknown template at once and every instance renders the same text.
create table if not exists trellis.mail_templates (
  name text primary key,
  subject text not null,
  html text not null,
  updated_at timestamptz not null default now()
);

-- Limits that SQL applies (MAIL_* settings, written by every start).
create table if not exists trellis.mail_settings (
  id boolean primary key default true check (id),
  per_address_per_day int not null default 10,
  per_ip_per_hour int not null default 30,
  max_data_bytes int not null default 65536
);
insert into trellis.mail_settings default values on conflict do nothing;

-- One row per mail: its delivery status, queryable by service_role.
create table if not exists trellis.mail_log (
  id bigint generated always as identity primary key,
  recipient text not null,
  template text not null,
  data jsonb not null default '{}'::jsonb,
  -- 'app': trellis.send_email; 'auth': auth's own mails (they count in auth's limits, not these).
  source text not null default 'app' check (source in ('app', 'auth')),
  status text not null default 'queued' check (status in ('queued', 'sent', 'failed', 'deferred')),
  provider text,
  error text,
  attempts int not null default 0,
  client_ip text,
  deferred_until timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sent_at timestamptz
);
create index if not exists mail_log_recipient_idx on trellis.mail_log (lower(recipient), created_at);
create index if not exists mail_log_client_ip_idx on trellis.mail_log (client_ip, created_at) where client_ip is not null;

-- Mails each provider sent in each UTC day and month: shared by every instance.
create table if not exists trellis.mail_quota_usage (
  provider text not null,
  period text not null check (period in ('day', 'month')),
  window_start timestamptz not null,
  used int not null default 0,
  primary key (provider, period, window_start)
);

-- A provider that failed (5xx, timeout, refused credentials) is skipped until unhealthy_until.
create table if not exists trellis.mail_provider_health (
  provider text primary key,
  failures int not null default 0,
  unhealthy_until timestamptz,
  last_error text,
  updated_at timestamptz not null default now()
);

-- Takes one mail of `provider`'s day and month windows if both have room (a null limit: none):
-- 'ok', or the window that is spent ('day', 'month'). Row locks make concurrent instances count exactly.
create or replace function trellis.mail_take_quota(
  p_provider text, p_day timestamptz, p_month timestamptz, p_day_limit int, p_month_limit int
) returns text language plpgsql set search_path = pg_catalog, pg_temp as $$
declare
  day_used int;
  month_used int;
begin
  insert into trellis.mail_quota_usage (provider, period, window_start)
  values (p_provider, 'day', p_day), (p_provider, 'month', p_month)
  on conflict do nothing;
  select used into day_used from trellis.mail_quota_usage
   where provider = p_provider and period = 'day' and window_start = p_day for update;
  select used into month_used from trellis.mail_quota_usage
   where provider = p_provider and period = 'month' and window_start = p_month for update;
  if p_month_limit is not null and month_used >= p_month_limit then
    return 'month';
  end if;
  if p_day_limit is not null and day_used >= p_day_limit then
    return 'day';
  end if;
  update trellis.mail_quota_usage set used = used + 1
   where provider = p_provider
     and ((period = 'day' and window_start = p_day) or (period = 'month' and window_start = p_month));
  return 'ok';
end $$;

-- Gives back what mail_take_quota took when the provider did not send the mail.
create or replace function trellis.mail_return_quota(p_provider text, p_day timestamptz, p_month timestamptz)
returns void language sql set search_path = pg_catalog, pg_temp as $$
  update trellis.mail_quota_usage set used = greatest(used - 1, 0)
   where provider = p_provider
     and ((period = 'day' and window_start = p_day) or (period = 'month' and window_start = p_month));
$$;

-- The address rule the whole of Trellis uses for app email: one address, no display name, no
-- spaces or control characters, a dot in the domain.
create or replace function trellis.mail_address_valid(address text) returns boolean
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select address is not null and length(address) <= 254
     and address ~ '^[^\s@<>(),;:"\[\]\\[:cntrl:]]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$';
$$;

-- Queues one mail; its id in trellis.mail_log. SECURITY DEFINER (fixed search_path) so that a
-- trigger function or a service_role rpc reaches the server's tables and runner; granted to
-- service_role only.
create or replace function trellis.send_email(recipient text, template text, data jsonb default '{}'::jsonb)
returns bigint language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
  limits trellis.mail_settings;
  mail_id bigint;
  ip text;
  recent int;
begin
  if recipient is null or not trellis.mail_address_valid(recipient) then
    raise exception 'send_email: % is not an email address', coalesce(quote_literal(recipient), 'null')
      using errcode = '22023', hint = 'one address such as someone@example.com, without a display name';
  end if;
  if template is null or not exists (select 1 from trellis.mail_templates t where t.name = template) then
    raise exception 'send_email: no template named %', coalesce(quote_literal(template), 'null')
      using errcode = '22023', hint = 'templates are supabase/templates/<name>.html, read at start';
  end if;
  data := coalesce(data, '{}'::jsonb);
  if jsonb_typeof(data) <> 'object' then
    raise exception 'send_email: data must be a JSON object, not %', jsonb_typeof(data) using errcode = '22023';
  end if;
  select * into limits from trellis.mail_settings;
  if octet_length(data::text) > limits.max_data_bytes then
    raise exception 'send_email: data is % bytes, more than the % allowed', octet_length(data::text),
      limits.max_data_bytes using errcode = '54000', hint = 'MAIL_MAX_DATA_BYTES';
  end if;

  select count(*) into recent from trellis.mail_log l
   where lower(l.recipient) = lower(send_email.recipient) and l.source = 'app'
     and l.created_at > now() - interval '1 day';
  if recent >= limits.per_address_per_day then
    raise exception 'send_email: % already has % mails in the last 24 hours', recipient, recent
      using errcode = '53400', hint = 'MAIL_PER_ADDRESS_PER_DAY';
  end if;

  -- The client's address when called through the data API: trellis.client_ip, set per request with
  -- the claims, as Trellis reads it (X-Forwarded-For only with TRUST_PROXY, else the socket's peer).
  ip := nullif(current_setting('trellis.client_ip', true), '');
  if ip is not null then
    select count(*) into recent from trellis.mail_log l
     where l.client_ip = ip and l.source = 'app' and l.created_at > now() - interval '1 hour';
    if recent >= limits.per_ip_per_hour then
      raise exception 'send_email: the client % already caused % mails in the last hour', ip, recent
        using errcode = '53400', hint = 'MAIL_PER_IP_PER_HOUR';
    end if;
  end if;

  insert into trellis.mail_log (recipient, template, data, client_ip)
  values (recipient, template, data, ip) returning id into mail_id;
  perform trellis.add_job('send-email', jsonb_build_object('mail_id', mail_id));
  return mail_id;
end $$;

revoke all on trellis.mail_templates, trellis.mail_settings, trellis.mail_log, trellis.mail_quota_usage,
  trellis.mail_provider_health from public;
revoke all on function trellis.send_email(text, text, jsonb), trellis.mail_take_quota(text, timestamptz, timestamptz, int, int),
  trellis.mail_return_quota(text, timestamptz, timestamptz) from public;
grant usage on schema trellis to service_role;
grant select on trellis.mail_log to service_role;
grant execute on function trellis.send_email(text, text, jsonb) to service_role;
