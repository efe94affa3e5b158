-- Authorisation of postgres_changes (src/realtime/changes/authorise.ts): for one changed row and
-- many subscribers' claims, which of them may SELECT it. Supabase's Realtime asks PostgreSQL once
-- per subscriber; this asks once per change, and PostgreSQL loops over the distinct claim sets.
--
-- For each claim set it becomes the claimed role with `request.jwt.claims` set, exactly as a data
-- API request does, and looks the row up by its primary key: the table's row-level security
-- policies (auth.uid() and the rest) decide. It runs inside db.withClaims as service_role, so on
-- the request login (a member of only the API roles): it can become no other role. Only
-- service_role may call it; service_role already sees every row, so the function tells it
-- nothing new.
-- Whether the transaction with this (32-bit, as in the WAL) id is visible to a snapshot taken now.
create or replace function realtime.trellis_committed_visible(xid bigint) returns boolean
language sql
volatile
as $$
  with s as (select pg_catalog.pg_current_snapshot() as snap,
                    pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())::text::bigint as xmax)
  -- The full id: the epoch of the snapshot's xmax, or the one before when the id wrapped since.
  select pg_catalog.pg_visible_in_snapshot(
           (case when ((xmax >> 32) << 32 | xid) > xmax then ((xmax >> 32) - 1) << 32 | xid else (xmax >> 32) << 32 | xid end)::text::xid8,
           snap)
    from s
$$;

revoke all on function realtime.trellis_committed_visible(bigint) from public;
grant execute on function realtime.trellis_committed_visible(bigint) to service_role;

-- Returns, for each claim set (outer) and each row (inner), whether that claim set may see that row:
-- array_length(roles) * array_length(pks) answers, claim set by claim set.
create or replace function realtime.trellis_visible_to(
  entity regclass,
  -- The rows' primary keys, each column name -> value as text (the rows of one transaction).
  pks jsonb[],
  roles text[],
  claims text[],
  -- The transaction that made the changes (from the WAL): the lookups wait until it is visible.
  xid bigint default null
) returns boolean[]
language plpgsql
volatile
as $$
declare
  lookup text;
  -- A prepared statement per table and connection: planned once, not once per claim group.
  -- PostgreSQL re-plans it when the table or its policies change, and applies row-level security
  -- for the role current at each EXECUTE (a plan made for another role is rewritten).
  prepared text;
  caller text := current_user;
  caller_claims text := current_setting('request.jwt.claims', true);
  result boolean[] := '{}';
  visible boolean;
  current_role_name text;
  may_select boolean;
  n int := coalesce(array_length(roles, 1), 0);
  k int := coalesce(array_length(pks, 1), 0);
  lookups text[] := '{}';
begin
  -- The WAL has a transaction's commit record a moment before the transaction is visible to new
  -- snapshots: wait for that moment (typically already past), or early lookups would miss the row.
  if xid is not null then
    for attempt in 1 .. 2000 loop
      exit when realtime.trellis_committed_visible(xid);
      perform pg_catalog.pg_sleep(0.0005);
    end loop;
  end if;
  select format('select exists (select 1 from %I.%I where %s)', ns.nspname, c.relname,
           string_agg(format('%I = ($1 ->> %L)::%s', a.attname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)), ' and '))
    into lookup
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace ns on ns.oid = c.relnamespace
    join pg_catalog.pg_index i on i.indrelid = c.oid and i.indisprimary
    join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum = any (i.indkey)
   where c.oid = entity
   group by ns.nspname, c.relname;
  if lookup is null then
    raise exception 'table % has no primary key', entity using errcode = '22023';
  end if;
  -- Named after its text: a renamed table or a changed primary key gets a statement of its own.
  prepared := 'trellis_visible_' || md5(lookup);
  if not exists (select 1 from pg_catalog.pg_prepared_statements where name = prepared) then
    execute format('prepare %I (jsonb) as %s', prepared, lookup);
  end if;
  for j in 1 .. k loop
    lookups := lookups || format('execute %I(%L)', prepared, pks[j]::text);
  end loop;
  -- Groups come sorted by role: the role (and its SELECT grant) changes only between runs of them.
  for i in 1 .. n loop
    if current_role_name is distinct from roles[i] then
      perform pg_catalog.set_config('role', caller, true);
      may_select := pg_catalog.has_table_privilege(roles[i], entity, 'SELECT');
      if may_select then
        perform pg_catalog.set_config('role', roles[i], true);
      end if;
      current_role_name := roles[i];
    end if;
    if not may_select then
      result := result || array_fill(false, array[k]);
      continue;
    end if;
    perform pg_catalog.set_config('request.jwt.claims', claims[i], true);
    for j in 1 .. k loop
      execute lookups[j] into visible;
      result := result || coalesce(visible, false);
    end loop;
  end loop;
  perform pg_catalog.set_config('role', caller, true), pg_catalog.set_config('request.jwt.claims', coalesce(caller_claims, ''), true);
  return result;
end
$$;

revoke all on function realtime.trellis_visible_to(regclass, jsonb[], text[], text[], bigint) from public;
grant execute on function realtime.trellis_visible_to(regclass, jsonb[], text[], text[], bigint) to service_role;
