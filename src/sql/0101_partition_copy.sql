-- What a table carries besides its rows, as statements for another table named `target` (a
-- qualified, quoted name): its policies and its grants. A conversion reads them before the old table
-- goes; the archive re-reads the live table's at each run, so it follows policy changes.

create or replace function trellis.policy_statements(src regclass, target text) returns setof text
language sql stable as $$
  select format('create policy %I on %s as %s for %s to %s%s%s',
           p.polname, target,
           case when p.polpermissive then 'permissive' else 'restrictive' end,
           case p.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update'
                         when 'd' then 'delete' else 'all' end,
           coalesce((select string_agg(case when r = 0 then 'public' else quote_ident(pg_catalog.pg_get_userbyid(r)) end, ', ')
                       from unnest(p.polroles) r), 'public'),
           coalesce(' using (' || pg_catalog.pg_get_expr(p.polqual, p.polrelid) || ')', ''),
           coalesce(' with check (' || pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) || ')', ''))
    from pg_catalog.pg_policy p where p.polrelid = src order by p.polname
$$;

-- `only_select`: the archive is read-only, so it takes SELECT alone from whoever held it.
create or replace function trellis.grant_statements(src regclass, target text, only_select boolean)
returns setof text
language sql stable as $$
  with tbl as (
    select a.grantee, a.privilege_type, a.is_grantable
      from pg_catalog.pg_class c,
           aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
     where c.oid = src and a.grantee <> c.relowner
  ), cols as (
    select at.attname, a.grantee, a.privilege_type, a.is_grantable
      from pg_catalog.pg_attribute at, aclexplode(at.attacl) a
     where at.attrelid = src and at.attnum > 0 and not at.attisdropped and at.attacl is not null
  )
  select format('grant %s on %s to %s%s', privilege_type, target,
                case when grantee = 0 then 'public' else quote_ident(pg_catalog.pg_get_userbyid(grantee)) end,
                case when is_grantable and not only_select then ' with grant option' else '' end)
    from tbl where not only_select or privilege_type = 'SELECT'
  union all
  select format('grant %s (%I) on %s to %s%s', privilege_type, attname, target,
                case when grantee = 0 then 'public' else quote_ident(pg_catalog.pg_get_userbyid(grantee)) end,
                case when is_grantable and not only_select then ' with grant option' else '' end)
    from cols where not only_select or privilege_type = 'SELECT'
$$;

-- Revokes everything from everyone but the owner: a new table in `public` starts with the default
-- privileges (0002_schemas grants all to the API roles), which the copied grants then replace.
create or replace function trellis.revoke_all_statements(rel regclass, target text) returns setof text
language sql stable as $$
  select format('revoke all on %s from %s', target,
                case when a.grantee = 0 then 'public' else quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) end)
    from pg_catalog.pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
   where c.oid = rel and a.grantee <> c.relowner
   group by a.grantee
$$;

-- The key column as a UTC timestamp expression, for month arithmetic on any of the three types.
create or replace function trellis.key_as_utc(key_column name, key_type regtype) returns text
language sql immutable as $$
  select case key_type when 'timestamp with time zone'::regtype then format('(%I at time zone ''UTC'')', key_column)
                       else format('%I::timestamp', key_column) end
$$;
