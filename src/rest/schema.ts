/**
 * The schema cache: tables, views, columns, keys, relationships and functions of the exposed
 * schemas, read in one query at start and again after migrations or `NOTIFY pgrst, 'reload schema'`.
 */
import type { Db } from '../db/index.js';
import type { ForeignKey, Relationship } from './relationship-graph.js';
import { loadRelationships } from './schema-relationships.js';

export interface Column {
  readonly name: string;
  /** format_type() of the column: used only to label, never spliced from user input. */
  readonly type: string;
  readonly nullable: boolean;
  readonly hasDefault: boolean;
  readonly generated: boolean;
  /**
   * The default as SQL text from the catalog (pg_get_expr; `nextval(…)` for an identity column, a
   * domain's default), for `Prefer: missing=default` on bulk inserts. Never from a request.
   */
  readonly defaultExpr?: string | null;
}

// A foreign key is the relationship graph's own fact; the cache's users import it from here.
export type { ForeignKey };

export interface Relation {
  readonly schema: string;
  readonly name: string;
  readonly kind: 'table' | 'view' | 'materialized_view' | 'foreign_table' | 'partitioned_table';
  readonly columns: ReadonlyMap<string, Column>;
  readonly primaryKey: readonly string[];
  readonly insertable: boolean;
  /** The result of a function returning a record type not in the cache: columns are not checked here. */
  readonly dynamicColumns?: boolean;
}

export interface FunctionArg {
  readonly name: string;
  readonly type: string;
  readonly hasDefault: boolean;
}

export interface DbFunction {
  readonly schema: string;
  readonly name: string;
  readonly args: readonly FunctionArg[];
  /** Type of the result: a scalar, or a table/composite whose columns can be selected and filtered. */
  readonly returnType: string;
  readonly returnsSet: boolean;
  readonly returnsComposite: boolean;
  readonly volatility: 'immutable' | 'stable' | 'volatile';
}

export interface SchemaCache {
  readonly schemas: readonly string[];
  relation(schema: string, name: string): Relation | undefined;
  /** Foreign keys from or to `schema.name`. */
  foreignKeys(schema: string, name: string): readonly ForeignKey[];
  functions(schema: string, name: string): readonly DbFunction[];
  /** The names of the callable functions of `schema`, for PGRST202's "Perhaps you meant" hint. */
  functionNames?(schema: string): readonly string[];
  /**
   * Every relationship from `schema.name` (foreign keys, through views, many-to-many, computed),
   * in PostgREST's order. A cache without it (a test's) has them derived from `foreignKeys`.
   */
  relationships?(schema: string, name: string): readonly Relationship<Relation>[];
  /**
   * A computed field of a relation: a function taking its row (`f(t tablename)`) that `select=f`
   * calls as if it were a column.
   */
  computedField?(relation: Relation, name: string): { readonly schema: string; readonly name: string } | undefined;
}

interface RawCache {
  relations:
    | {
        schema: string;
        name: string;
        kind: string;
        insertable: boolean;
        pk: string[] | null;
        columns: {
          name: string;
          type: string;
          nullable: boolean;
          has_default: boolean;
          generated: boolean;
          default_expr: string | null;
        }[];
      }[]
    | null;
  fks:
    | {
        name: string;
        schema: string;
        table: string;
        columns: string[];
        ref_schema: string;
        ref_table: string;
        ref_columns: string[];
        one_to_one: boolean;
      }[]
    | null;
  functions:
    | {
        schema: string;
        name: string;
        arg_names: string[] | null;
        arg_types: string[] | null;
        arg_modes: string[] | null;
        defaults: number;
        return_type: string;
        returns_set: boolean;
        returns_composite: boolean;
        volatility: string;
      }[]
    | null;
}

const KINDS: Record<string, Relation['kind']> = {
  r: 'table',
  v: 'view',
  m: 'materialized_view',
  f: 'foreign_table',
  p: 'partitioned_table',
};
const VOLATILITY: Record<string, DbFunction['volatility']> = { i: 'immutable', s: 'stable', v: 'volatile' };

const UNNAMED_TYPES = new Set(['bytea', 'json', 'jsonb', 'text', 'xml']);

const INTROSPECT = `
with rels as (
  select c.oid, n.nspname as schema, c.relname as name, c.relkind as kind,
         pg_relation_is_updatable(c.oid::regclass, true) & 8 = 8 or c.relkind in ('r', 'p') as insertable
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = any($1) and c.relkind in ('r', 'v', 'm', 'f', 'p')
)
select
  (select json_agg(json_build_object(
     'schema', r.schema, 'name', r.name, 'kind', r.kind, 'insertable', r.insertable,
     'pk', (select array_agg(a.attname order by k.ord) from pg_constraint pk
            cross join unnest(pk.conkey) with ordinality as k(attnum, ord)
            join pg_attribute a on a.attrelid = pk.conrelid and a.attnum = k.attnum
            where pk.conrelid = r.oid and pk.contype = 'p'),
     'columns', (select json_agg(json_build_object(
                   'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'nullable', not a.attnotnull,
                   'has_default', a.atthasdef or a.attidentity <> '', 'generated', a.attgenerated <> '',
                   'default_expr', case when a.attgenerated <> '' then null
                                        when a.attidentity = 'd' then format('nextval(%L)', pg_get_serial_sequence(r.oid::regclass::text, a.attname))
                                        when ad.adbin is null and ty.typbasetype <> 0 then pg_get_expr(ty.typdefaultbin, 0)
                                        else pg_get_expr(ad.adbin, ad.adrelid) end) order by a.attnum)
                 from pg_attribute a join pg_type ty on ty.oid = a.atttypid
                 left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
                 where a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped)
   )) from rels r) as relations,
  (select json_agg(json_build_object(
     'name', c.conname, 'schema', sn.nspname, 'table', s.relname, 'ref_schema', tn.nspname, 'ref_table', t.relname,
     'columns', (select array_agg(a.attname order by k.ord) from unnest(c.conkey) with ordinality k(attnum, ord)
                 join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum),
     'ref_columns', (select array_agg(a.attname order by k.ord) from unnest(c.confkey) with ordinality k(attnum, ord)
                     join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.attnum),
     'one_to_one', exists (select 1 from pg_constraint u where u.conrelid = c.conrelid and u.contype in ('p', 'u')
                           and (select array_agg(x order by x) from unnest(u.conkey) x)
                             = (select array_agg(x order by x) from unnest(c.conkey) x))))
   from pg_constraint c
   join pg_class s on s.oid = c.conrelid join pg_namespace sn on sn.oid = s.relnamespace
   join pg_class t on t.oid = c.confrelid join pg_namespace tn on tn.oid = t.relnamespace
   -- A partition's copy of its table's key (conparentid) is not a relationship of its own, as in PostgREST.
   where c.contype = 'f' and c.conparentid = 0 and (sn.nspname = any($1) or tn.nspname = any($1))) as fks,
  (select json_agg(json_build_object(
     'schema', n.nspname, 'name', p.proname,
     'arg_names', p.proargnames, 'arg_modes', p.proargmodes,
     'arg_types', (select array_agg(format_type(t, null) order by i) from unnest(p.proargtypes) with ordinality as x(t, i)),
     'defaults', p.pronargdefaults, 'return_type', format_type(p.prorettype, null), 'returns_set', p.proretset,
     'returns_composite', rt.typtype = 'c' or (p.proargmodes is not null and 't' = any(p.proargmodes)),
     'volatility', p.provolatile))
   from pg_proc p join pg_namespace n on n.oid = p.pronamespace join pg_type rt on rt.oid = p.prorettype
   where n.nspname = any($1) and p.prokind = 'f') as functions`;

export async function loadSchemaCache(db: Db, schemas: readonly string[]): Promise<SchemaCache> {
  const raw = (await db.query<RawCache>(INTROSPECT, [schemas])).rows[0];
  const relations = new Map<string, Relation>();
  for (const r of raw?.relations ?? []) {
    relations.set(`${r.schema}.${r.name}`, {
      schema: r.schema,
      name: r.name,
      kind: KINDS[r.kind] ?? 'table',
      insertable: r.insertable,
      primaryKey: r.pk ?? [],
      columns: new Map(
        (r.columns ?? []).map((c) => [
          c.name,
          {
            name: c.name,
            type: c.type,
            nullable: c.nullable,
            hasDefault: c.has_default,
            generated: c.generated,
            defaultExpr: c.default_expr,
          },
        ]),
      ),
    });
  }
  const fks = new Map<string, ForeignKey[]>();
  for (const f of raw?.fks ?? []) {
    const fk: ForeignKey = {
      name: f.name,
      schema: f.schema,
      table: f.table,
      columns: f.columns,
      refSchema: f.ref_schema,
      refTable: f.ref_table,
      refColumns: f.ref_columns,
      oneToOne: f.one_to_one,
    };
    for (const key of new Set([`${f.schema}.${f.table}`, `${f.ref_schema}.${f.ref_table}`]))
      fks.set(key, [...(fks.get(key) ?? []), fk]);
  }
  const functions = new Map<string, DbFunction[]>();
  for (const f of raw?.functions ?? []) {
    // IN and INOUT/VARIADIC arguments are what a caller passes; OUT/TABLE columns are results.
    const modes = f.arg_modes ?? (f.arg_types ?? []).map(() => 'i');
    const allNames = f.arg_names ?? [];
    const inputs = modes.flatMap((m, i) => (m === 'i' || m === 'b' || m === 'v' ? [i] : []));
    const types = f.arg_types ?? [];
    const args = inputs.map((index, n) => ({
      name: allNames[index] ?? '',
      type: types[n] ?? 'unknown',
      hasDefault: n >= inputs.length - f.defaults,
    }));
    // PostgREST leaves out what no request can call: two unnamed parameters, or one whose type a
    // body cannot be (only bytea, json, jsonb, text and xml bodies are passed whole).
    const unnamed = args.filter((a) => a.name === '');
    if (unnamed.length > 1 || (unnamed.length === 1 && !UNNAMED_TYPES.has(unnamed[0]?.type ?? ''))) continue;
    const fn: DbFunction = {
      schema: f.schema,
      name: f.name,
      args,
      returnType: f.return_type,
      returnsSet: f.returns_set,
      returnsComposite: f.returns_composite,
      volatility: VOLATILITY[f.volatility] ?? 'volatile',
    };
    const key = `${f.schema}.${f.name}`;
    functions.set(key, [...(functions.get(key) ?? []), fn]);
  }
  const related = await loadRelationships(db, schemas, relations, [...new Set([...fks.values()].flat())]);
  return {
    schemas,
    relation: (schema, name) => relations.get(`${schema}.${name}`),
    relationships: related.relationships,
    computedField: related.computedField,
    foreignKeys: (schema, name) => fks.get(`${schema}.${name}`) ?? [],
    functions: (schema, name) => functions.get(`${schema}.${name}`) ?? [],
    functionNames: (schema) => [...functions.values()].flatMap((f) => (f[0]?.schema === schema ? [f[0].name] : [])),
  };
}
