/**
 * What Studio's table pages show, read from PostgreSQL's catalog as the server login: schemas,
 * tables and views with estimated row counts and RLS state, and one table's columns, indexes,
 * foreign keys, policies and triggers. Values travel as parameters; nothing here splices names.
 */
import type { Tx } from '../db/index.js';
import { ApiError } from '../errors.js';
import { policyAdvice } from './policy-advice.js';

/** Schemas of PostgreSQL itself, hidden from the list (auth and storage stay: they are the project's). */
const HIDDEN_SCHEMAS = ['pg_catalog', 'information_schema', 'pg_toast'];

export interface TableSummary {
  readonly schema: string;
  readonly name: string;
  readonly kind: 'table' | 'view' | 'materialized view' | 'partitioned table' | 'foreign table';
  readonly rowsEstimate: number;
  readonly rls: boolean;
  /** A table in `public` without row-level security: anyone with the anon key can read and write it. */
  readonly warning: string | null;
}

const KINDS: Record<string, TableSummary['kind']> = {
  r: 'table',
  v: 'view',
  m: 'materialized view',
  p: 'partitioned table',
  f: 'foreign table',
};

export async function listTables(tx: Tx): Promise<{ schemas: string[]; tables: TableSummary[] }> {
  const schemas = await tx.query<{ name: string }>(
    `select nspname as name from pg_namespace
      where not (nspname = any($1)) and nspname not like 'pg_temp%' and nspname not like 'pg_toast_temp%'
      order by nspname`,
    [HIDDEN_SCHEMAS],
  );
  const rows = await tx.query<{ schema: string; name: string; kind: string; estimate: string; rls: boolean }>(
    `select n.nspname as schema, c.relname as name, c.relkind::text as kind,
            -- reltuples is ANALYZE's (or autovacuum's); before the first (-1) the statistics' live
            -- rows, which follow writes once each backend reports them.
            (case when c.reltuples >= 0 then c.reltuples::bigint else coalesce(s.n_live_tup, 0) end)::text as estimate,
            c.relrowsecurity as rls
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       left join pg_stat_all_tables s on s.relid = c.oid
      where c.relkind in ('r', 'v', 'm', 'p', 'f') and not c.relispartition
        and not (n.nspname = any($1)) and n.nspname not like 'pg_temp%'
      order by n.nspname, c.relname`,
    [HIDDEN_SCHEMAS],
  );
  const tables = rows.rows.map((r): TableSummary => {
    const kind = KINDS[r.kind] ?? 'table';
    const exposed = r.schema === 'public' && (kind === 'table' || kind === 'partitioned table') && !r.rls;
    return {
      schema: r.schema,
      name: r.name,
      kind,
      rowsEstimate: Number(r.estimate),
      rls: r.rls,
      warning: exposed
        ? 'Row-level security is off: anyone with the anon key can read and change every row of this table'
        : null,
    };
  });
  return { schemas: schemas.rows.map((s) => s.name), tables };
}

export interface TableDetail {
  readonly schema: string;
  readonly name: string;
  readonly kind: TableSummary['kind'];
  readonly rls: boolean;
  readonly primaryKey: string[];
  readonly columns: { name: string; type: string; nullable: boolean; default: string | null; identity: boolean }[];
  readonly indexes: { name: string; definition: string; unique: boolean; primary: boolean }[];
  readonly foreignKeys: { name: string; definition: string }[];
  readonly policies: {
    name: string;
    command: string;
    permissive: boolean;
    roles: string[];
    using: string | null;
    check: string | null;
    /** What makes the policy cost more than it needs to (policy-advice.ts); empty when nothing does. */
    advice: string[];
  }[];
  readonly triggers: { name: string; definition: string; enabled: boolean }[];
}

/** One relation's detail, or a 404 ApiError when it does not exist. */
export async function tableDetail(tx: Tx, schema: string, name: string): Promise<TableDetail> {
  const rel = await tx.query<{ oid: number; kind: string; rls: boolean }>(
    `select c.oid::int as oid, c.relkind::text as kind, c.relrowsecurity as rls
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relname = $2 and c.relkind in ('r', 'v', 'm', 'p', 'f')`,
    [schema, name],
  );
  const found = rel.rows[0];
  if (!found) throw new ApiError(404, 'not_found', `relation "${schema}"."${name}" does not exist`);
  const oid = found.oid;
  const [columns, indexes, fks, policies, triggers] = await Promise.all([
    tx.query<TableDetail['columns'][number]>(
      `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type, not a.attnotnull as nullable,
              pg_get_expr(d.adbin, d.adrelid) as default, a.attidentity <> '' as identity
         from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped order by a.attnum`,
      [oid],
    ),
    tx.query<TableDetail['indexes'][number] & { keys: string[] | null }>(
      `select i.relname as name, pg_get_indexdef(x.indexrelid) as definition, x.indisunique as unique,
              x.indisprimary as primary,
              case when x.indisprimary then array(select a.attname from unnest(x.indkey) with ordinality k(n, o)
                join pg_attribute a on a.attrelid = x.indrelid and a.attnum = k.n order by k.o) end::text[] as keys
         from pg_index x join pg_class i on i.oid = x.indexrelid where x.indrelid = $1 order by i.relname`,
      [oid],
    ),
    tx.query<TableDetail['foreignKeys'][number]>(
      `select conname as name, pg_get_constraintdef(oid) as definition from pg_constraint
        where conrelid = $1 and contype = 'f' order by conname`,
      [oid],
    ),
    tx.query<Omit<TableDetail['policies'][number], 'advice'> & { slow: string[] }>(
      `select p.polname as name,
              case p.polcmd when 'r' then 'SELECT' when 'a' then 'INSERT' when 'w' then 'UPDATE'
                            when 'd' then 'DELETE' else 'ALL' end as command,
              p.polpermissive as permissive,
              case when p.polroles = '{0}' then array['public']
                   else array(select rolname::text from pg_roles where oid = any(p.polroles) order by 1) end as roles,
              pg_get_expr(p.polqual, p.polrelid) as using, pg_get_expr(p.polwithcheck, p.polrelid) as check,
              array(select distinct n.nspname || '.' || f.proname
                      from pg_depend d join pg_proc f on f.oid = d.refobjid join pg_namespace n on n.oid = f.pronamespace
                     where d.classid = 'pg_policy'::regclass and d.objid = p.oid and d.refclassid = 'pg_proc'::regclass
                       and (f.prosecdef or f.proconfig is not null) and n.nspname <> 'auth'
                     order by 1)::text[] as slow
         from pg_policy p where p.polrelid = $1 order by p.polname`,
      [oid],
    ),
    tx.query<TableDetail['triggers'][number]>(
      `select tgname as name, pg_get_triggerdef(oid) as definition, tgenabled <> 'D' as enabled
         from pg_trigger where tgrelid = $1 and not tgisinternal order by tgname`,
      [oid],
    ),
  ]);
  const primary = indexes.rows.find((i) => i.primary);
  return {
    schema,
    name,
    kind: KINDS[found.kind] ?? 'table',
    rls: found.rls,
    primaryKey: primary?.keys ?? [],
    columns: columns.rows,
    indexes: indexes.rows.map(({ keys: _keys, ...index }) => index),
    foreignKeys: fks.rows,
    policies: policies.rows.map(({ slow, ...policy }) => ({
      ...policy,
      advice: policyAdvice(policy.using, policy.check, slow),
    })),
    triggers: triggers.rows,
  };
}
