-- Monthly partitions and their archive (docs/partitions.md).
--
-- trellis.partition_by_month(table, column, premake, retain) turns a plain table into a parent
-- partitioned by month on a timestamp column (or adopts a table already partitioned by range on
-- it) and registers it; trellis.run_partition_maintenance() creates the months ahead and moves
-- partitions older than `retain` into the schema `archive`, where `archive.<table>` (partitioned
-- the same way, read-only for the API roles, with the live table's policies) still answers for them.
-- PostgreSQL cannot change a table into a partitioned one in place, so conversion builds a new
-- parent beside it, copies the rows, moves indexes, keys, policies, grants, triggers, publication
-- membership and sequence ownership over, drops the old table and takes its name: one transaction,
-- so an error leaves the table as it was.
create schema if not exists archive;
revoke all on schema archive from public;

create table if not exists trellis.partitioned_tables (
  parent regclass primary key,
  partition_key name not null,
  premake integer not null check (premake between 0 and 120),
  retain interval,
  registered_at timestamptz not null default now()
);
revoke all on trellis.partitioned_tables from public;

-- One key for conversions and maintenance runs: "trellis" + "parts" in ASCII, apart from the
-- migration and backup keys.
create or replace function trellis.partition_lock_key() returns bigint
language sql immutable as $$ select 7526745537010001::bigint $$;

-- A relation's name with its schema, whatever the search_path (regclass::text drops a visible schema).
create or replace function trellis.qualified(rel regclass) returns text
language sql stable as $$
  select format('%I.%I', relnamespace::regnamespace::name, relname) from pg_catalog.pg_class where oid = rel
$$;

-- The start of the month (UTC) holding `at`, as a timestamp.
create or replace function trellis.month_start(at timestamp) returns timestamp
language sql immutable as $$ select date_trunc('month', at) $$;

-- A partition bound literal for `month` in the key's type: timestamptz months are UTC months.
create or replace function trellis.month_bound(month timestamp, key_type regtype) returns text
language sql immutable as $$
  select case key_type
    when 'timestamp with time zone'::regtype then to_char(month, 'YYYY-MM-DD') || ' 00:00:00+00'
    else to_char(month, 'YYYY-MM-DD') end
$$;

-- The partition key's type, or an error naming what is wrong with the table or column.
create or replace function trellis.partition_key_type(tbl regclass, key_column name) returns regtype
language plpgsql stable as $$
declare
  key_type regtype;
begin
  select a.atttypid::regtype into key_type from pg_catalog.pg_attribute a
   where a.attrelid = tbl and a.attname = key_column and a.attnum > 0 and not a.attisdropped;
  if key_type is null then
    raise exception 'table % has no column "%"', tbl, key_column using errcode = '42703';
  end if;
  if key_type not in ('timestamp with time zone'::regtype, 'timestamp without time zone'::regtype, 'date'::regtype) then
    raise exception 'column "%" of % is of type %; monthly partitions need timestamptz, timestamp or date',
      key_column, tbl, key_type using errcode = '42804';
  end if;
  return key_type;
end
$$;

-- The month a child partition covers, read off its bound ('FOR VALUES FROM (x) TO (y)'); null for
-- the default partition and for bounds that are not one calendar month.
create or replace function trellis.partition_upper(child regclass, key_type regtype) returns timestamp
language plpgsql stable as $$
declare
  bound text := pg_catalog.pg_get_expr((select relpartbound from pg_catalog.pg_class where oid = child), child);
  parts text[] := regexp_match(bound, '^FOR VALUES FROM \(''([^'']*)''\) TO \(''([^'']*)''\)$');
begin
  if parts is null then return null; end if;
  if key_type = 'timestamp with time zone'::regtype then
    return parts[2]::timestamptz at time zone 'UTC';
  end if;
  return parts[2]::timestamp;
end
$$;

-- Partitions are reached through their parent, whose grants and policies apply there. Default
-- privileges (0002_schemas) would grant the API roles everything on each new partition, and a
-- partition named in a query applies its own policies, not the parent's: without this, anon could
-- read every row at /rest/v1/messages_2026_12.
create or replace function trellis.seal_partition(child regclass, parent regclass) returns void
language plpgsql as $$
declare
  ident char := (select relreplident from pg_catalog.pg_class where oid = parent);
begin
  execute format('revoke all on %s from public, anon, authenticated, service_role', child);
  execute format('alter table %s enable row level security', child);
  -- Replica identity is per partition; realtime's old records on update/delete need the parent's.
  if ident = 'f' then execute format('alter table %s replica identity full', child); end if;
  execute format('alter table %s owner to %I', child,
    (select pg_catalog.pg_get_userbyid(relowner) from pg_catalog.pg_class where oid = parent));
end
$$;

-- Creates the partition for the month starting at `month` unless one covers it already; rows the
-- default partition holds for that month move into it. Returns the new partition, or null.
create or replace function trellis.default_partition(parent regclass) returns regclass
language sql stable as $$
  select i.inhrelid::regclass from pg_catalog.pg_inherits i join pg_catalog.pg_class c on c.oid = i.inhrelid
   where i.inhparent = parent and pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'
$$;

-- The columns a copy of rows writes (generated columns compute themselves), quoted, in order.
create or replace function trellis.insertable_columns(rel regclass) returns text
language sql stable as $$
  select string_agg(quote_ident(attname), ', ' order by attnum) from pg_catalog.pg_attribute
   where attrelid = rel and attnum > 0 and not attisdropped and attgenerated = ''
$$;

-- `base`: the name partitions are named after (a conversion builds its parent under another name).
create or replace function trellis.create_month_partition(parent regclass, key_column name, month timestamp,
                                                          base name default null)
returns regclass
language plpgsql as $$
declare
  key_type regtype := trellis.partition_key_type(parent, key_column);
  nsp name := (select relnamespace::regnamespace::name from pg_catalog.pg_class where oid = parent);
  child_name name;
  lower_bound text := trellis.month_bound(month, key_type);
  upper_bound text := trellis.month_bound(month + interval '1 month', key_type);
  dflt regclass := trellis.default_partition(parent);
  cols text := trellis.insertable_columns(parent);
  child regclass;
  moved boolean := false;
begin
  base := coalesce(base, (select relname from pg_catalog.pg_class where oid = parent));
  child_name := left(base, 55) || '_' || to_char(month, 'YYYY_MM');
  -- Covered already: a partition of ours or of the user's takes the month's first instant.
  if exists (select 1 from pg_catalog.pg_inherits i where i.inhparent = parent and i.inhrelid <> coalesce(dflt, 0)
               and trellis.partition_upper(i.inhrelid::regclass, key_type) > month
               and trellis.partition_upper(i.inhrelid::regclass, key_type) - interval '1 month' <= month) then
    return null;
  end if;
  if to_regclass(format('%I.%I', nsp, child_name)) is not null then
    raise exception 'cannot create partition %.%: a relation of that name exists', nsp, child_name
      using errcode = '42P07';
  end if;
  if dflt is not null then
    execute format('select exists (select 1 from %s where %I >= %L and %I < %L)',
                   dflt, key_column, lower_bound, key_column, upper_bound) into moved;
  end if;
  if moved then
    -- A new partition may not take rows the default holds: move them out first, then attach.
    execute format('create table %I.%I (like %s including defaults including constraints)', nsp, child_name, parent);
    child := format('%I.%I', nsp, child_name)::regclass;
    execute format('with gone as (delete from %s where %I >= %L and %I < %L returning *) insert into %s (%s) select %s from gone',
                   dflt, key_column, lower_bound, key_column, upper_bound, child, cols, cols);
    execute format('alter table %s attach partition %s for values from (%L) to (%L)', parent, child, lower_bound, upper_bound);
  else
    execute format('create table %I.%I partition of %s for values from (%L) to (%L)',
                   nsp, child_name, parent, lower_bound, upper_bound);
    child := format('%I.%I', nsp, child_name)::regclass;
  end if;
  perform trellis.seal_partition(child, parent);
  return child;
end
$$;

-- The default partition, created when missing: rows outside every month (or with a null key) land there.
create or replace function trellis.ensure_default_partition(parent regclass, base name default null) returns void
language plpgsql as $$
declare
  nsp name := (select relnamespace::regnamespace::name from pg_catalog.pg_class where oid = parent);
begin
  base := coalesce(base, (select relname from pg_catalog.pg_class where oid = parent));
  if trellis.default_partition(parent) is not null then return; end if;
  execute format('create table %I.%I partition of %s default', nsp, left(base, 55) || '_default', parent);
  perform trellis.seal_partition(format('%I.%I', nsp, left(base, 55) || '_default')::regclass, parent);
end
$$;
