/**
 * The catalog facts relationships need beyond foreign keys, read once with the schema cache: the
 * views' query trees (which view column is which table column) and the functions of one row
 * (computed relationships and fields). Their own query, so the main introspection stays as it is.
 */
import type { Db } from '../db/index.js';
import { viewColumnOrigins } from '../db/index.js';
import {
  buildRelationships,
  type ComputedRelationshipSource,
  type Relationship,
  type ViewColumnSource,
} from './relationship-graph.js';
import type { ForeignKey, RelationLike } from './relationship-graph.js';

interface RawFacts {
  /** Every exposed relation's oid and column names by number: what a view's query tree points at. */
  relations: { oid: number; schema: string; name: string; columns: Record<string, string> | null }[] | null;
  views: { schema: string; name: string; definition: string }[] | null;
  row_functions:
    | {
        schema: string;
        name: string;
        arg_schema: string;
        arg_name: string;
        ret_schema: string | null;
        ret_name: string | null;
        to_one: boolean;
      }[]
    | null;
}

// Functions of one row: `f(t)` where t is a table or view's row type (PostgREST's rule, any number
// of defaults is not enough: exactly one argument). One returning a table or view's rows is a
// computed relationship, from any schema as in PostgREST (both relations must be exposed); any
// other is a computed field, of the exposed schemas only (PostgREST's search path).
const FACTS = `
with rels as (
  select c.oid, n.nspname as schema, c.relname as name, c.relkind as kind, c.reltype
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = any($1) and c.relkind in ('r', 'v', 'm', 'f', 'p')
)
select
  (select json_agg(json_build_object('oid', r.oid::bigint, 'schema', r.schema, 'name', r.name,
     'columns', (select json_object_agg(a.attnum, a.attname) from pg_attribute a
                 where a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped)))
   from rels r) as relations,
  (select json_agg(json_build_object('schema', r.schema, 'name', r.name, 'definition', w.ev_action::text))
   from rels r join pg_rewrite w on w.ev_class = r.oid and w.rulename = '_RETURN'
   where r.kind in ('v', 'm')) as views,
  (select json_agg(json_build_object(
     'schema', n.nspname, 'name', p.proname, 'arg_schema', a.schema, 'arg_name', a.name,
     'ret_schema', t.schema, 'ret_name', t.name, 'to_one', not p.proretset or p.prorows = 1))
   from pg_proc p join pg_namespace n on n.oid = p.pronamespace
   join rels a on a.reltype = p.proargtypes[0]
   left join rels t on t.reltype = p.prorettype
   where p.pronargs = 1 and p.prokind = 'f' and (n.nspname = any($1) or t.oid is not null)) as row_functions`;

export interface RelationshipIndex<Relation extends RelationLike> {
  readonly relationships: (schema: string, name: string) => readonly Relationship<Relation>[];
  readonly computedField: (
    relation: RelationLike,
    name: string,
  ) => { readonly schema: string; readonly name: string } | undefined;
}

export async function loadRelationships<Relation extends RelationLike>(
  db: Db,
  schemas: readonly string[],
  relations: ReadonlyMap<string, Relation>,
  foreignKeys: readonly ForeignKey[],
): Promise<RelationshipIndex<Relation>> {
  const raw = (await db.query<RawFacts>(FACTS, [schemas])).rows[0];
  const graph = buildRelationships(
    relations,
    foreignKeys,
    viewSources(raw, relations),
    computedRelationships(raw, relations),
  );
  const fields = new Map<string, { schema: string; name: string }>();
  for (const f of raw?.row_functions ?? []) {
    if (f.ret_name !== null || !schemas.includes(f.schema)) continue;
    const key = `${f.arg_schema}.${f.arg_name}\u0000${f.name}`;
    // The function of the relation's own schema first, as PostgreSQL's search path would pick it.
    if (!fields.has(key) || f.schema === f.arg_schema) fields.set(key, { schema: f.schema, name: f.name });
  }
  return {
    relationships: (schema, name) => graph.get(`${schema}.${name}`) ?? [],
    computedField: (relation, name) => fields.get(`${relation.schema}.${relation.name}\u0000${name}`),
  };
}

/**
 * View columns that are a relation's column unchanged, followed through views of views down to a
 * table (PostgREST's view key dependencies).
 */
function viewSources<Relation extends RelationLike>(
  raw: RawFacts | undefined,
  relations: ReadonlyMap<string, Relation>,
): ViewColumnSource<Relation>[] {
  const byOid = new Map<number, { relation: Relation; names: Record<string, string> }>();
  const namesOf = new Map<string, Record<string, string>>();
  for (const r of raw?.relations ?? []) {
    const relation = relations.get(`${r.schema}.${r.name}`);
    namesOf.set(`${r.schema}.${r.name}`, r.columns ?? {});
    if (relation) byOid.set(Number(r.oid), { relation, names: r.columns ?? {} });
  }
  const origins = new Map<string, ReturnType<typeof viewColumnOrigins>>();
  for (const v of raw?.views ?? []) origins.set(`${v.schema}.${v.name}`, viewColumnOrigins(v.definition));
  const sources: ViewColumnSource<Relation>[] = [];
  for (const v of raw?.views ?? []) {
    const view = relations.get(`${v.schema}.${v.name}`);
    if (!view) continue;
    const viewColumns = namesOf.get(`${v.schema}.${v.name}`) ?? {};
    for (const origin of origins.get(`${v.schema}.${v.name}`) ?? []) {
      // Down through views until a relation that is not a view, never around a cycle.
      let at: { relationOid: number; relationColumn: number } | undefined = origin;
      const seen = new Set<number>();
      while (at && !seen.has(at.relationOid)) {
        seen.add(at.relationOid);
        const source = byOid.get(at.relationOid);
        if (!source) break;
        const next = origins.get(`${source.relation.schema}.${source.relation.name}`);
        if (!next) {
          const tableColumn = source.names[String(at.relationColumn)];
          const viewColumn = viewColumns[String(origin.column)];
          if (tableColumn && viewColumn) sources.push({ view, viewColumn, table: source.relation, tableColumn });
          break;
        }
        const column: number = at.relationColumn;
        at = next.find((o) => o.column === column);
      }
    }
  }
  return sources;
}

function computedRelationships<Relation extends RelationLike>(
  raw: RawFacts | undefined,
  relations: ReadonlyMap<string, Relation>,
): ComputedRelationshipSource<Relation>[] {
  return (raw?.row_functions ?? []).flatMap((f) => {
    const parent = relations.get(`${f.arg_schema}.${f.arg_name}`);
    const target = f.ret_name !== null ? relations.get(`${f.ret_schema}.${f.ret_name}`) : undefined;
    return parent && target ? [{ schema: f.schema, name: f.name, parent, target, toOne: f.to_one }] : [];
  });
}
