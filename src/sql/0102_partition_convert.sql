-- Converting a plain table into a parent partitioned by month (docs/partitions.md, "Converting").
-- Everything happens in the caller's transaction under an ACCESS EXCLUSIVE lock on the table: a
-- refusal or an error leaves it as it was. What PostgreSQL cannot carry over is refused up front,
-- with the reason, before anything is made.

create or replace function trellis.refuse_unconvertible(rel regclass, key_column name) returns void
language plpgsql stable as $$
declare
  key_num smallint := (select attnum from pg_catalog.pg_attribute where attrelid = rel and attname = key_column);
  found text;
begin
  if exists (select 1 from pg_catalog.pg_inherits where inhrelid = rel or inhparent = rel) then
    raise exception '% uses table inheritance; partition_by_month converts plain tables only', rel
      using errcode = '0A000';
  end if;
  -- A foreign key needs a unique constraint on the referenced columns, and on a partitioned table
  -- every unique constraint must include the partition key (PostgreSQL 15).
  select string_agg(format('%s on %s', conname, conrelid::regclass), ', ') into found
    from pg_catalog.pg_constraint where contype = 'f' and confrelid = rel and not key_num = any(confkey);
  if found is not null then
    raise exception 'foreign keys reference % by columns without "%": %', rel, key_column, found
      using errcode = '0A000',
            hint = format('A partitioned table''s unique keys must include %I. Drop these foreign keys, or make them reference (<key>, %I), then call partition_by_month again.', key_column, key_column);
  end if;
  select string_agg(c.relname, ', ') into found
    from pg_catalog.pg_index i join pg_catalog.pg_class c on c.oid = i.indexrelid
   where i.indrelid = rel and i.indisunique and not i.indisprimary and not key_num = any(i.indkey);
  if found is not null then
    raise exception 'unique indexes of % do not include "%": %', rel, key_column, found
      using errcode = '0A000',
            hint = format('PostgreSQL enforces uniqueness on a partitioned table only with the partition key. Add %I to these indexes or drop them first.', key_column);
  end if;
  if exists (select 1 from pg_catalog.pg_constraint where conrelid = rel and contype = 'x') then
    raise exception '% has an exclusion constraint; partition_by_month does not convert those', rel
      using errcode = '0A000';
  end if;
  select string_agg(distinct v.ev_class::regclass::text, ', ') into found
    from pg_catalog.pg_depend d join pg_catalog.pg_rewrite v on d.classid = 'pg_rewrite'::regclass and d.objid = v.oid
   where d.refobjid = rel and v.ev_class <> rel;
  if found is not null then
    raise exception 'views depend on %: %', rel, found
      using errcode = '2BP01', hint = 'Drop them, call partition_by_month, and create them again.';
  end if;
  if exists (select 1 from pg_catalog.pg_constraint where conrelid = rel and contype = 'p') then
    execute format('select exists (select 1 from %s where %I is null)', rel, key_column) into strict found;
    if found::boolean then
      raise exception 'rows of % have no "%"; the primary key will include it, so it must be set on every row', rel, key_column
        using errcode = '23502';
    end if;
  end if;
end
$$;

-- Returns how many rows moved.
create or replace function trellis.convert_to_partitioned(rel regclass, key_column name) returns bigint
language plpgsql as $$
declare
  key_type regtype := trellis.partition_key_type(rel, key_column);
  nsp name := (select relnamespace::regnamespace::name from pg_catalog.pg_class where oid = rel);
  base name := (select relname from pg_catalog.pg_class where oid = rel);
  owner name := (select pg_catalog.pg_get_userbyid(relowner) from pg_catalog.pg_class where oid = rel);
  target text := format('%I.%I', nsp, (select relname from pg_catalog.pg_class where oid = rel));
  fresh regclass;
  cols text;
  months timestamp[];
  month timestamp;
  moved bigint;
  later text[] := '{}';
  stmt text;
  r record;
begin
  execute format('lock table %s in access exclusive mode', rel);
  perform trellis.refuse_unconvertible(rel, key_column);

  execute format('create table %I.%I (like %s including defaults including generated including identity '
                 'including constraints including comments including storage including compression '
                 'including statistics) partition by range (%I)', nsp, left(base, 45) || '_partitioning', rel, key_column);
  fresh := format('%I.%I', nsp, left(base, 45) || '_partitioning')::regclass;
  execute format('alter table %s owner to %I', fresh, owner);
  if (select relreplident from pg_catalog.pg_class where oid = rel) = 'f' then
    execute format('alter table %s replica identity full', fresh);
  end if;

  -- A partition for each month that has rows (past months without rows need none), and the default.
  execute format('select array_agg(distinct date_trunc(''month'', %s)) from %s where %I is not null',
                 trellis.key_as_utc(key_column, key_type), rel, key_column) into months;
  if coalesce(array_length(months, 1), 0) > 600 then
    raise exception 'rows of % span % months; partition_by_month makes at most 600 partitions at once', rel, array_length(months, 1)
      using errcode = '54000';
  end if;
  foreach month in array coalesce(months, '{}') loop
    perform trellis.create_month_partition(fresh, key_column, month, base);
  end loop;
  perform trellis.ensure_default_partition(fresh, base);

  cols := trellis.insertable_columns(rel);
  execute format('insert into %s (%s) overriding system value select %s from %s', fresh, cols, cols, rel);
  get diagnostics moved = row_count;

  -- Identity columns got sequences of their own (LIKE … INCLUDING IDENTITY): carry the position.
  for r in select attname from pg_catalog.pg_attribute where attrelid = rel and attidentity <> '' loop
    execute format('select setval(%L, last_value, is_called) from %s',
                   pg_catalog.pg_get_serial_sequence(fresh::text, r.attname),
                   pg_catalog.pg_get_serial_sequence(rel::text, r.attname));
  end loop;
  -- serial columns' sequences belong to the old table and would go with it.
  for r in select d.objid::regclass as seq, a.attname from pg_catalog.pg_depend d
             join pg_catalog.pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
            where d.classid = 'pg_class'::regclass and d.refobjid = rel and d.deptype = 'a'
              and (select relkind from pg_catalog.pg_class where oid = d.objid) = 'S' loop
    execute format('alter sequence %s owned by %s.%I', r.seq, fresh, r.attname);
  end loop;

  -- Read while the old table still holds the name: these definitions name it as `target`, which
  -- is what the new parent is called once they run.
  for r in select c.conname, c.conkey from pg_catalog.pg_constraint c where c.conrelid = rel and c.contype = 'p' loop
    later := later || format('alter table %s add constraint %I primary key (%s)', target, r.conname,
      (select string_agg(quote_ident(a.attname), ', ' order by k.i) from unnest(r.conkey) with ordinality k(n, i)
         join pg_catalog.pg_attribute a on a.attrelid = rel and a.attnum = k.n)
      || case when (select attnum from pg_catalog.pg_attribute where attrelid = rel and attname = key_column) = any(r.conkey)
              then '' else ', ' || quote_ident(key_column) end);
  end loop;
  for r in select conname, pg_catalog.pg_get_constraintdef(oid) as def from pg_catalog.pg_constraint
            where conrelid = rel and contype in ('u', 'f') order by contype desc, conname loop
    later := later || format('alter table %s add constraint %I %s', target, r.conname, r.def);
  end loop;
  for r in select pg_catalog.pg_get_indexdef(i.indexrelid) as def from pg_catalog.pg_index i
            where i.indrelid = rel and not exists (select 1 from pg_catalog.pg_constraint c where c.conindid = i.indexrelid) loop
    later := later || r.def;
  end loop;
  -- Foreign keys into the table (all include the key, refuse_unconvertible saw to it) go and come back.
  for r in select conname, conrelid::regclass as src, pg_catalog.pg_get_constraintdef(oid) as def
             from pg_catalog.pg_constraint where contype = 'f' and confrelid = rel and conrelid <> rel loop
    execute format('alter table %s drop constraint %I', r.src, r.conname);
    later := later || format('alter table %s add constraint %I %s', r.src, r.conname, r.def);
  end loop;
  for r in select pg_catalog.pg_get_triggerdef(oid) as def, tgname, tgenabled from pg_catalog.pg_trigger
            where tgrelid = rel and not tgisinternal loop
    later := later || r.def;
    if r.tgenabled = 'D' then later := later || format('alter table %s disable trigger %I', target, r.tgname); end if;
  end loop;
  if (select relrowsecurity from pg_catalog.pg_class where oid = rel) then
    later := later || format('alter table %s enable row level security', target);
  end if;
  if (select relforcerowsecurity from pg_catalog.pg_class where oid = rel) then
    later := later || format('alter table %s force row level security', target);
  end if;
  later := later || array(select trellis.policy_statements(rel, target));
  later := later || array(select trellis.revoke_all_statements(fresh, target));
  later := later || array(select trellis.grant_statements(rel, target, false));
  if obj_description(rel, 'pg_class') is not null then
    later := later || format('comment on table %s is %L', target, obj_description(rel, 'pg_class'));
  end if;
  for r in select p.pubname from pg_catalog.pg_publication_rel pr join pg_catalog.pg_publication p on p.oid = pr.prpubid
            where pr.prrelid = rel loop
    later := later || format('alter publication %I add table %s', r.pubname, target);
  end loop;

  begin
    execute format('drop table %s', rel);
  exception when dependent_objects_still_exist then
    get stacked diagnostics stmt = pg_exception_detail;
    raise exception 'cannot replace %: %', target, sqlerrm using errcode = '2BP01', detail = stmt,
      hint = 'Drop the objects PostgreSQL names (functions or types using the table''s row type), convert, then create them again.';
  end;
  execute format('alter table %s rename to %I', fresh, base);
  -- The identity sequences take the old ones' names, which the drop freed.
  for r in select attname from pg_catalog.pg_attribute where attrelid = fresh and attidentity <> '' loop
    stmt := pg_catalog.pg_get_serial_sequence(fresh::text, r.attname);
    if to_regclass(format('%I.%I', nsp, left(base, 58 - length(r.attname)) || '_' || r.attname || '_seq')) is null then
      execute format('alter sequence %s rename to %I', stmt, left(base, 58 - length(r.attname)) || '_' || r.attname || '_seq');
    end if;
  end loop;
  foreach stmt in array later loop
    execute stmt;
  end loop;
  -- postgres_changes on the parent need changes published under its name (0052_realtime_partition_root).
  if exists (select 1 from pg_catalog.pg_publication where pubname = 'supabase_realtime' and not pubviaroot) then
    alter publication supabase_realtime set (publish_via_partition_root = true);
  end if;
  return moved;
end
$$;
