-- The two functions users call (docs/partitions.md): partition_by_month and run_partition_maintenance.

-- Moves `child` (a partition of `parent`) into archive.<parent's name>: a table partitioned the
-- same way, with the live table's policies and SELECT for whoever may select from it, so archived
-- rows stay readable (PostgREST: Accept-Profile archive) with the same row-level security.
create or replace function trellis.archive_partition(parent regclass, child regclass) returns regclass
language plpgsql as $$
declare
  base name := (select relname from pg_catalog.pg_class where oid = parent);
  child_name name := (select relname from pg_catalog.pg_class where oid = child);
  key_column name := (select partition_key from trellis.partitioned_tables where partitioned_tables.parent = archive_partition.parent);
  bound text := pg_catalog.pg_get_expr((select relpartbound from pg_catalog.pg_class where oid = child), child);
  target text := format('archive.%I', base);
  archived regclass := to_regclass(format('archive.%I', base));
  stmt text;
  r record;
begin
  if archived is null then
    execute format('create table %s (like %s including defaults including constraints including indexes '
                   'including comments) partition by range (%I)', target, parent, key_column);
    archived := target::regclass;
    execute format('alter table %s owner to %I', archived,
                   (select pg_catalog.pg_get_userbyid(relowner) from pg_catalog.pg_class where oid = parent));
    -- The data API's schema cache learns of the new table at commit (as PostgREST's, from this channel).
    perform pg_notify('pgrst', 'reload schema');
  end if;
  -- Columns the live table gained since the archive was made.
  for r in select a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) as type from pg_catalog.pg_attribute a
            where a.attrelid = parent and a.attnum > 0 and not a.attisdropped
              and not exists (select 1 from pg_catalog.pg_attribute b where b.attrelid = archived
                                and b.attname = a.attname and not b.attisdropped) loop
    execute format('alter table %s add column %I %s', archived, r.attname, r.type);
  end loop;
  -- Row-level security, policies and read grants follow the live table's, as they are now.
  execute format('alter table %s %s row level security', archived,
                 case when (select relrowsecurity from pg_catalog.pg_class where oid = parent) then 'enable' else 'disable' end);
  execute format('alter table %s %s row level security', archived,
                 case when (select relforcerowsecurity from pg_catalog.pg_class where oid = parent) then 'force' else 'no force' end);
  for r in select polname from pg_catalog.pg_policy where polrelid = archived loop
    execute format('drop policy %I on %s', r.polname, archived);
  end loop;
  for stmt in select trellis.policy_statements(parent, target) loop execute stmt; end loop;
  for stmt in select trellis.revoke_all_statements(archived, target) loop execute stmt; end loop;
  for stmt in select trellis.grant_statements(parent, target, true) loop execute stmt; end loop;
  for r in select distinct a.grantee from pg_catalog.pg_class c, aclexplode(c.relacl) a
            where c.oid = archived and a.grantee <> c.relowner loop
    execute format('grant usage on schema archive to %s',
                   case when r.grantee = 0 then 'public' else quote_ident(pg_catalog.pg_get_userbyid(r.grantee)) end);
  end loop;

  if to_regclass(format('archive.%I', child_name)) is not null then
    raise exception 'cannot archive %: archive.% exists', child, child_name using errcode = '42P07';
  end if;
  execute format('alter table %s detach partition %s', parent, child);
  execute format('alter table %s set schema archive', child);
  execute format('alter table %s attach partition archive.%I %s', archived, child_name, bound);
  return format('archive.%I', child_name)::regclass;
end
$$;

create or replace function trellis.partition_by_month(tbl text, key_column text, premake integer default 3,
                                                      retain interval default null)
returns text
language plpgsql as $$
declare
  rel regclass;
  kind char;
  key_type regtype;
  moved bigint;
  made integer := 0;
  verb text;
  i integer;
  child regclass;
begin
  if tbl is null or key_column is null then
    raise exception 'partition_by_month needs a table and a column' using errcode = '22004';
  end if;
  if premake is null or premake < 0 or premake > 120 then
    raise exception 'premake must be between 0 and 120 months, not %', coalesce(premake::text, 'null') using errcode = '22023';
  end if;
  if retain is not null and retain <= interval '0' then
    raise exception 'retain must be a positive interval, not %', retain using errcode = '22023';
  end if;
  begin
    -- parse_ident first: from PostgreSQL 16 on, to_regclass answers null for a malformed name.
    perform parse_ident(tbl);
    rel := to_regclass(tbl);
  exception when others then
    raise exception 'invalid table name "%": %', tbl, sqlerrm using errcode = '42602';
  end;
  if rel is null then
    raise exception 'table "%" does not exist', tbl using errcode = '42P01';
  end if;
  perform pg_advisory_xact_lock(trellis.partition_lock_key());
  select relkind into kind from pg_catalog.pg_class where oid = rel;
  if kind not in ('r', 'p') then
    raise exception '% is not a table', rel using errcode = '42809';
  end if;
  if (select relispartition from pg_catalog.pg_class where oid = rel) then
    raise exception '% is a partition; call partition_by_month on its parent', rel using errcode = '42809';
  end if;
  key_type := trellis.partition_key_type(rel, key_column);
  if kind = 'p' then
    if not exists (select 1 from pg_catalog.pg_partitioned_table p where p.partrelid = rel and p.partstrat = 'r'
                     and p.partnatts = 1 and p.partattrs[0] = (select attnum from pg_catalog.pg_attribute
                                                               where attrelid = rel and attname = key_column)) then
      raise exception '% is already partitioned, not by range on "%"', rel, key_column using errcode = '0A000';
    end if;
    verb := case when exists (select 1 from trellis.partitioned_tables where parent = rel) then 'kept' else 'adopted' end;
    -- Partitions the user made get the same protection as ours (see seal_partition).
    for child in select inhrelid::regclass from pg_catalog.pg_inherits where inhparent = rel loop
      perform trellis.seal_partition(child, rel);
    end loop;
  else
    moved := trellis.convert_to_partitioned(rel, key_column);
    rel := to_regclass(tbl);
    verb := 'converted';
  end if;
  insert into trellis.partitioned_tables (parent, partition_key, premake, retain)
  values (rel, key_column, premake, retain)
  on conflict (parent) do update set partition_key = excluded.partition_key, premake = excluded.premake,
                                     retain = excluded.retain;
  for i in 0 .. premake loop
    child := trellis.create_month_partition(rel, key_column,
               trellis.month_start((now() at time zone 'UTC')::timestamp) + make_interval(months => i));
    if child is not null then made := made + 1; end if;
  end loop;
  perform trellis.ensure_default_partition(rel);
  if verb <> 'kept' then perform pg_notify('pgrst', 'reload schema'); end if;
  return format('%s %s partitioned by month on %I%s; %s new partitions ahead', verb, trellis.qualified(rel), key_column,
                case when moved is null then '' else format(' (%s rows moved)', moved) end, made);
end
$$;

-- Creates each registered table's months ahead and archives its partitions older than `retain`.
-- One run at a time across instances (a transaction advisory lock; a run that finds it taken does
-- nothing), each table in a subtransaction with a lock timeout, so a busy or broken table is
-- reported and the others still get done.
create or replace function trellis.run_partition_maintenance()
returns table (parent text, action text, partition text)
language plpgsql as $$
declare
  t record;
  c record;
  child regclass;
  now_utc timestamp := (now() at time zone 'UTC')::timestamp;
  previous_timeout text := pg_catalog.current_setting('lock_timeout');
  done text[][];
  months timestamp[];
  month timestamp;
  i integer;
begin
  if not pg_try_advisory_xact_lock(trellis.partition_lock_key()) then
    return query select '*'::text, 'skipped'::text, 'another run or conversion holds the lock'::text;
    return;
  end if;
  delete from trellis.partitioned_tables p where not exists (select 1 from pg_catalog.pg_class where oid = p.parent);
  perform pg_catalog.set_config('lock_timeout', '5s', true);
  for t in select p.parent as rel, p.partition_key, p.premake, p.retain from trellis.partitioned_tables p
            order by trellis.qualified(p.parent) loop
    done := '{}';
    begin
      for i in 0 .. t.premake loop
        child := trellis.create_month_partition(t.rel, t.partition_key,
                   trellis.month_start(now_utc) + make_interval(months => i));
        if child is not null then done := done || array[array['created', trellis.qualified(child)]]; end if;
      end loop;
      perform trellis.ensure_default_partition(t.rel);
      -- Rows the default partition took (a backfill, an import, a clock far off) get their month's
      -- partition, so that they are archived with it in time.
      execute format('select array_agg(distinct date_trunc(''month'', %s)) from %s where %I is not null',
                     trellis.key_as_utc(t.partition_key, trellis.partition_key_type(t.rel, t.partition_key)),
                     trellis.default_partition(t.rel), t.partition_key) into months;
      foreach month in array coalesce(months[1:120], '{}') loop
        child := trellis.create_month_partition(t.rel, t.partition_key, month);
        if child is not null then done := done || array[array['created', trellis.qualified(child)]]; end if;
      end loop;
      if t.retain is not null then
        for c in select inh.inhrelid::regclass as rel from pg_catalog.pg_inherits inh
                  where inh.inhparent = t.rel
                    and trellis.partition_upper(inh.inhrelid::regclass, trellis.partition_key_type(t.rel, t.partition_key))
                        <= now_utc - t.retain
                  order by trellis.partition_upper(inh.inhrelid::regclass, trellis.partition_key_type(t.rel, t.partition_key)) loop
          child := trellis.archive_partition(t.rel, c.rel);
          done := done || array[array['archived', trellis.qualified(child)]];
        end loop;
      end if;
    exception when others then
      done := array[array['failed', sqlerrm]];
    end;
    for i in 1 .. coalesce(array_length(done, 1), 0) loop
      parent := trellis.qualified(t.rel); action := done[i][1]; partition := done[i][2];
      return next;
    end loop;
  end loop;
  perform pg_catalog.set_config('lock_timeout', previous_timeout, true);
end
$$;

-- For the owner of the tables (the server login, migrations): none of these is for the API roles.
revoke all on function trellis.partition_by_month(text, text, integer, interval) from public;
revoke all on function trellis.run_partition_maintenance() from public;
revoke all on function trellis.archive_partition(regclass, regclass) from public;
revoke all on function trellis.convert_to_partitioned(regclass, name) from public;
revoke all on function trellis.create_month_partition(regclass, name, timestamp, name) from public;
revoke all on function trellis.ensure_default_partition(regclass, name) from public;
revoke all on function trellis.seal_partition(regclass, regclass) from public;
