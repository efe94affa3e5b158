/**
 * The documentation catalog of the exposed schemas: what `trellis gen types typescript` and the
 * OpenAPI root (`GET /rest/v1/`) describe. The data API's schema cache (src/rest/schema.ts) holds
 * what planning a request needs, in memory, for every request; this reads, on demand, what only a
 * document needs on top of it: type names and their schemas, enum labels, composite types,
 * comments, identity and view-column updatability, and what the current role may see. It is one
 * statement, so it can run under a caller's role (the OpenAPI root follows the caller's privileges).
 */
import type { Tx } from './claims.js';
import { viewKeys, type ForeignKey } from './view-keys.js';

/** A type as a column, argument or attribute names it: `pg_type.typname` (`int4`, `_text`) and its schema. */
export interface CatalogTypeRef {
  /** pg_type.oid (of the base type, for a domain). */
  readonly id: number;
  readonly name: string;
  readonly schema: string;
  /** format_type(): `integer`, `character varying`, `text[]` (OpenAPI's formats). */
  readonly format: string;
}

export interface CatalogColumn {
  readonly name: string;
  /** A domain's base type: clients see the base type's values. */
  readonly type: CatalogTypeRef;
  readonly nullable: boolean;
  /** The default's expression as PostgreSQL prints it (`nextval('…'::regclass)`, `'x'::text`). */
  readonly default: string | null;
  readonly identity: 'always' | 'by_default' | null;
  readonly generated: boolean;
  /** A view's column an INSERT or UPDATE can write (always true for a table's). */
  readonly updatable: boolean;
  readonly comment: string | null;
  /** character varying(n) / character(n). */
  readonly maxLength: number | null;
}

export interface CatalogRelation {
  readonly schema: string;
  readonly name: string;
  readonly kind: 'table' | 'view' | 'materialized_view' | 'foreign_table' | 'partitioned_table';
  readonly comment: string | null;
  readonly columns: readonly CatalogColumn[];
  readonly primaryKey: readonly string[];
  readonly insertable: boolean;
  readonly updatable: boolean;
  readonly deletable: boolean;
  /** The current role holds some privilege on it (PostgREST's openapi-mode follow-privileges). */
  readonly visible: boolean;
  /** A partition: the Supabase CLI types it, PostgREST's OpenAPI leaves it out. */
  readonly partition: boolean;
}

export type CatalogForeignKey = ForeignKey;

export interface CatalogFunctionArg {
  /** '' for an unnamed argument. */
  readonly name: string;
  readonly mode: 'in' | 'out' | 'inout' | 'variadic' | 'table';
  readonly type: CatalogTypeRef;
  readonly hasDefault: boolean;
}

export interface CatalogFunction {
  readonly schema: string;
  readonly name: string;
  readonly comment: string | null;
  /** Every argument, results (OUT, TABLE) included, in declaration order. */
  readonly args: readonly CatalogFunctionArg[];
  readonly returnType: CatalogTypeRef;
  /** The relation whose row type the function returns (a table, a view or a composite type). */
  readonly returnRelation: { readonly schema: string; readonly name: string; readonly kind: string } | null;
  readonly returnsSet: boolean;
  /** The planner's row estimate of a set-returning function (ROWS n); null for one returning a value. */
  readonly rows: number | null;
  readonly volatility: 'immutable' | 'stable' | 'volatile';
  /** The current role may execute it. */
  readonly executable: boolean;
}

/** An enum or a composite type (CREATE TYPE … AS ENUM / AS (…)), from any schema but PostgreSQL's. */
export interface CatalogType {
  readonly schema: string;
  readonly name: string;
  readonly format: string;
  readonly enumLabels: readonly string[] | null;
  readonly attributes: readonly { readonly name: string; readonly type: CatalogTypeRef }[] | null;
}

export interface Catalog {
  /** The asked-for schemas that exist, by name, with their comments. */
  readonly schemas: readonly { readonly name: string; readonly comment: string | null }[];
  readonly relations: readonly CatalogRelation[];
  readonly foreignKeys: readonly CatalogForeignKey[];
  readonly functions: readonly CatalogFunction[];
  readonly types: readonly CatalogType[];
}

// A domain reads as its base type; an array of a domain as an array of the base type.
const TYPE_REF = (oid: string): string => `(select json_build_object(
    'id', coalesce(bt.oid, t.oid)::int8, 'name', coalesce(bt.typname, t.typname), 'schema', coalesce(btn.nspname, tn.nspname),
    'format', format_type(coalesce(bt.oid, t.oid), null))
  from pg_type t join pg_namespace tn on tn.oid = t.typnamespace
  left join pg_type bt on t.typtype = 'd' and bt.oid = t.typbasetype
  left join pg_namespace btn on btn.oid = bt.typnamespace
  where t.oid = ${oid})`;

/** $1: the schemas (text[]). Runs as whoever asks; the privilege columns answer for that role. */
const CATALOG_SQL = `
with rels as (
  select c.oid, n.nspname as schema, c.relname as name, c.relkind as kind, c.relowner, c.relispartition,
         pg_relation_is_updatable(c.oid::regclass, true) as upd
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = any($1) and c.relkind in ('r', 'v', 'm', 'f', 'p')
), procs as (
  select p.*, n.nspname as schema,
         coalesce(p.proallargtypes, p.proargtypes::oid[]) as all_types,
         coalesce(p.proargmodes, array_fill('i'::"char", array[cardinality(p.proargtypes::oid[])])) as all_modes
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
  where n.nspname = any($1) and p.prokind = 'f'
    and p.prorettype not in ('trigger'::regtype, 'event_trigger'::regtype)
)
select
  (select coalesce(json_agg(json_build_object('name', n.nspname, 'comment', obj_description(n.oid, 'pg_namespace'))
                            order by n.nspname), '[]')
   from pg_namespace n where n.nspname = any($1)) as schemas,
  (select coalesce(json_agg(json_build_object(
     'schema', r.schema, 'name', r.name, 'kind', r.kind, 'comment', obj_description(r.oid, 'pg_class'),
     'partition', r.relispartition, 'oid', r.oid::int8,
     'definition', case when r.kind in ('v', 'm') then
       (select w.ev_action::text from pg_rewrite w where w.ev_class = r.oid and w.rulename = '_RETURN') end,
     'insertable', r.kind in ('r', 'p') or r.upd & 8 = 8,
     'updatable', r.kind in ('r', 'p') or r.upd & 4 = 4,
     'deletable', r.kind in ('r', 'p') or r.upd & 16 = 16,
     'visible', pg_has_role(r.relowner, 'USAGE')
                or has_table_privilege(r.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                or has_any_column_privilege(r.oid, 'SELECT, INSERT, UPDATE, REFERENCES'),
     'pk', (select coalesce(array_agg(a.attname order by k.ord), '{}') from pg_constraint pk
            cross join unnest(pk.conkey) with ordinality as k(attnum, ord)
            join pg_attribute a on a.attrelid = pk.conrelid and a.attnum = k.attnum
            where pk.conrelid = r.oid and pk.contype = 'p'),
     'columns', (select coalesce(json_agg(json_build_object(
                   'name', a.attname, 'attnum', a.attnum, 'type', ${TYPE_REF('a.atttypid')},
                   'nullable', not (a.attnotnull or (t.typtype = 'd' and t.typnotnull)),
                   'default', pg_get_expr(ad.adbin, ad.adrelid),
                   'identity', case a.attidentity when 'a' then 'always' when 'd' then 'by_default' end,
                   'generated', a.attgenerated <> '',
                   'updatable', r.kind in ('r', 'p') or pg_column_is_updatable(r.oid, a.attnum, false),
                   'comment', col_description(r.oid, a.attnum),
                   'max_length', case when coalesce(t.typbasetype, 0) = 0 and t.typname in ('varchar', 'bpchar')
                                        and a.atttypmod > 4 then a.atttypmod - 4 end)
                   order by a.attnum), '[]')
                 from pg_attribute a join pg_type t on t.oid = a.atttypid
                 left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
                 where a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped)
   ) order by r.schema, r.name), '[]') from rels r) as relations,
  (select coalesce(json_agg(json_build_object(
     'name', c.conname, 'schema', sn.nspname, 'table', s.relname, 'ref_schema', tn.nspname, 'ref_table', t.relname,
     'columns', (select array_agg(a.attname order by k.ord) from unnest(c.conkey) with ordinality k(attnum, ord)
                 join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum),
     'ref_columns', (select array_agg(a.attname order by k.ord) from unnest(c.confkey) with ordinality k(attnum, ord)
                     join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.attnum),
     'one_to_one', exists (select 1 from pg_constraint u where u.conrelid = c.conrelid and u.contype in ('p', 'u')
                           and (select array_agg(x order by x) from unnest(u.conkey) x)
                             = (select array_agg(x order by x) from unnest(c.conkey) x)))
     order by c.conname), '[]')
   from pg_constraint c
   join pg_class s on s.oid = c.conrelid join pg_namespace sn on sn.oid = s.relnamespace
   join pg_class t on t.oid = c.confrelid join pg_namespace tn on tn.oid = t.relnamespace
   where c.contype = 'f' and c.conparentid = 0 and not s.relispartition
     and sn.nspname = any($1) and tn.nspname = any($1)) as fks,
  (select coalesce(json_agg(json_build_object(
     'schema', p.schema, 'name', p.proname, 'comment', obj_description(p.oid, 'pg_proc'),
     'args', (select coalesce(json_agg(json_build_object(
                'name', coalesce(p.proargnames[x.i], ''),
                'mode', case x.mode when 'i' then 'in' when 'o' then 'out' when 'b' then 'inout'
                                    when 'v' then 'variadic' else 'table' end,
                'type', ${TYPE_REF('x.type')},
                -- Defaults belong to the last input arguments (OUT and TABLE ones take none).
                'has_default', x.mode in ('i', 'b', 'v') and (select count(*) from unnest(p.all_modes[x.i + 1:]) m
                                                               where m in ('i', 'b', 'v')) < p.pronargdefaults)
                order by x.i), '[]')
              from unnest(p.all_types, p.all_modes) with ordinality as x(type, mode, i)),
     'return_type', ${TYPE_REF('p.prorettype')},
     'return_relation', (select json_build_object('schema', rn.nspname, 'name', rc.relname, 'kind', rc.relkind)
                         from pg_type rt join pg_class rc on rc.oid = rt.typrelid
                         join pg_namespace rn on rn.oid = rc.relnamespace where rt.oid = p.prorettype),
     'returns_set', p.proretset, 'rows', case when p.proretset then nullif(p.prorows, 0) end,
     'volatility', p.provolatile, 'executable', has_function_privilege(p.oid, 'execute'))
     order by p.schema, p.proname, p.oid), '[]') from procs p) as functions,
  (select coalesce(json_agg(json_build_object(
     'schema', n.nspname, 'name', t.typname, 'format', format_type(t.oid, null),
     'enum_labels', (select array_agg(e.enumlabel order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid),
     'attributes', (select json_agg(json_build_object('name', a.attname, 'type', ${TYPE_REF('a.atttypid')})
                                    order by a.attnum)
                    from pg_attribute a where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped))
     order by n.nspname, t.typname), '[]')
   from pg_type t join pg_namespace n on n.oid = t.typnamespace
   left join pg_class tc on tc.oid = t.typrelid
   where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
     and (t.typtype = 'e' or (t.typtype = 'c' and tc.relkind = 'c'))) as types`;

interface RawCatalog {
  schemas: Catalog['schemas'];
  relations: (Omit<CatalogRelation, 'kind' | 'columns' | 'primaryKey'> & {
    kind: string;
    oid: number;
    definition: string | null;
    pk: string[];
    columns: (Omit<CatalogColumn, 'maxLength'> & { attnum: number; max_length: number | null })[];
  })[];
  fks: {
    name: string;
    schema: string;
    table: string;
    columns: string[];
    ref_schema: string;
    ref_table: string;
    ref_columns: string[];
    one_to_one: boolean;
  }[];
  functions: {
    schema: string;
    name: string;
    comment: string | null;
    args: { name: string; mode: CatalogFunctionArg['mode']; type: CatalogTypeRef; has_default: boolean }[];
    return_type: CatalogTypeRef;
    return_relation: CatalogFunction['returnRelation'];
    returns_set: boolean;
    rows: number | null;
    volatility: string;
    executable: boolean;
  }[];
  types: {
    schema: string;
    name: string;
    format: string;
    enum_labels: string[] | null;
    attributes: { name: string; type: CatalogTypeRef }[] | null;
  }[];
}

const KINDS: Record<string, CatalogRelation['kind']> = {
  r: 'table',
  v: 'view',
  m: 'materialized_view',
  f: 'foreign_table',
  p: 'partitioned_table',
};
const VOLATILITY: Record<string, CatalogFunction['volatility']> = { i: 'immutable', s: 'stable', v: 'volatile' };

/** The catalog from the one row CATALOG_SQL answers (pure). */
function parseCatalog(raw: RawCatalog): Catalog {
  const tableKeys = raw.fks.map((f) => ({
    name: f.name,
    schema: f.schema,
    table: f.table,
    columns: f.columns,
    refSchema: f.ref_schema,
    refTable: f.ref_table,
    refColumns: f.ref_columns,
    oneToOne: f.one_to_one,
  }));
  const carried = viewKeys(raw.relations, tableKeys);
  return {
    schemas: raw.schemas,
    relations: raw.relations.map(({ pk, columns, kind, oid, definition, ...r }) => ({
      ...r,
      kind: KINDS[kind] ?? 'table',
      primaryKey: definition === null ? pk : (carried.primaryKeys.get(oid) ?? []),
      columns: columns.map(({ max_length, attnum: _attnum, ...c }) => ({ ...c, maxLength: max_length })),
    })),
    // The tables' own keys first: a column's note in the OpenAPI document names the first.
    foreignKeys: [...tableKeys, ...carried.foreignKeys],
    functions: raw.functions.map((f) => ({
      schema: f.schema,
      name: f.name,
      comment: f.comment,
      args: f.args.map((a) => ({ name: a.name, mode: a.mode, type: a.type, hasDefault: a.has_default })),
      returnType: f.return_type,
      returnRelation: f.return_relation,
      returnsSet: f.returns_set,
      rows: f.rows,
      volatility: VOLATILITY[f.volatility] ?? 'volatile',
      executable: f.executable,
    })),
    types: raw.types.map((t) => ({
      schema: t.schema,
      name: t.name,
      format: t.format,
      enumLabels: t.enum_labels,
      attributes: t.attributes,
    })),
  };
}

/** Reads the catalog of `schemas` in `tx`, a transaction (the server's, or a caller's). */
export async function readCatalog(tx: Pick<Tx, 'query'>, schemas: readonly string[]): Promise<Catalog> {
  // The statement's cost estimate passes jit_above_cost, and compiling it takes half a second
  // (measured on PostgreSQL 15) for a few milliseconds of execution on catalogs this size.
  await tx.query("select set_config('jit', 'off', true)");
  const { rows } = await tx.query<RawCatalog>(CATALOG_SQL, [schemas]);
  if (!rows[0]) throw new Error('the catalog query answered no row');
  return parseCatalog(rows[0]);
}
