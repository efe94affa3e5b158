/**
 * Reads, in one statement, what decides whether a relation's reads are cached (classify.ts): its
 * comment's `@cache` directive, and everything a read of it reaches through views and read
 * policies (pg_depend records both a view's and a policy's relations and functions).
 */
import type { Db } from '../../db/index.js';
import type { Logger } from '../../platform/logger.js';
import { classifyReach, type Cacheability, type RelationReach } from './classify.js';
import { parseCacheDirective } from './directive.js';

export interface CachePolicy {
  /** Set for the relations opted in; the others may still be read by one (embedded). */
  readonly ttlMs: number | undefined;
  readonly cacheability: Cacheability;
}

/** `schema.name` -> the policy of every relation of the exposed schemas. */
export type CachePolicies = ReadonlyMap<string, CachePolicy>;

const REACH_SQL = `
with recursive rels as (
  select c.oid, n.nspname as schema, c.relname as name
  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where n.nspname = any($1::text[]) and c.relkind in ('r', 'p', 'v', 'm', 'f')
),
exprs(rel, classid, objid) as (
  select rw.ev_class, 'pg_catalog.pg_rewrite'::regclass, rw.oid
  from pg_catalog.pg_rewrite rw where rw.rulename = '_RETURN'
  union all
  select p.polrelid, 'pg_catalog.pg_policy'::regclass, p.oid
  from pg_catalog.pg_policy p join pg_catalog.pg_class c on c.oid = p.polrelid
  where c.relrowsecurity and p.polcmd in ('r', '*')
),
closure(root, oid) as (
  select oid, oid from rels
  union
  select cl.root, d.refobjid
  from closure cl
  join exprs e on e.rel = cl.oid
  join pg_catalog.pg_depend d on d.classid = e.classid and d.objid = e.objid
   and d.refclassid = 'pg_catalog.pg_class'::regclass and d.refobjid <> cl.oid
)
select r.schema, r.name, pg_catalog.obj_description(r.oid, 'pg_class') as comment,
  (select pg_catalog.json_agg(pg_catalog.json_build_object(
      'name', bn.nspname || '.' || b.relname, 'kind', b.relkind,
      'published', exists (select 1 from pg_catalog.pg_publication_tables pt
                           where pt.pubname = 'supabase_realtime' and pt.schemaname = bn.nspname
                             and pt.tablename = b.relname)))
   from closure cl join pg_catalog.pg_class b on b.oid = cl.oid
   join pg_catalog.pg_namespace bn on bn.oid = b.relnamespace
   where cl.root = r.oid) as relations,
  (select coalesce(pg_catalog.array_agg(case when e.classid = 'pg_catalog.pg_rewrite'::regclass
                     then pg_catalog.pg_get_viewdef(e.rel)
                     else (select coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), 'true')
                           from pg_catalog.pg_policy p where p.oid = e.objid) end), '{}')
   from closure cl join exprs e on e.rel = cl.oid where cl.root = r.oid) as texts,
  (select coalesce(pg_catalog.array_agg(distinct pn.nspname || '.' || f.proname), '{}')
   from closure cl join exprs e on e.rel = cl.oid
   join pg_catalog.pg_depend d on d.classid = e.classid and d.objid = e.objid
    and d.refclassid = 'pg_catalog.pg_proc'::regclass
   join pg_catalog.pg_proc f on f.oid = d.refobjid
   join pg_catalog.pg_namespace pn on pn.oid = f.pronamespace
   where cl.root = r.oid) as functions
from rels r`;

interface ReachRow extends RelationReach {
  readonly schema: string;
  readonly name: string;
  readonly comment: string | null;
}

/**
 * The relations opted in by REST_CACHE_TABLES (`configured`, over comments) or a `@cache`
 * comment; `warn` hears each directive that does not parse and each opted-in relation that
 * cannot be cached, with the reason.
 */
export async function loadCachePolicies(
  db: Db,
  schemas: readonly string[],
  configured: ReadonlyMap<string, number>,
  warn: (relation: string, message: string) => void,
): Promise<CachePolicies> {
  const rows = (await db.query<ReachRow>(REACH_SQL, [schemas])).rows;
  const policies = new Map<string, CachePolicy>();
  for (const row of rows) {
    const name = `${row.schema}.${row.name}`;
    const directive = parseCacheDirective(row.comment);
    if (directive.kind === 'invalid') warn(name, `${directive.message}; the comment's directive is ignored`);
    const ttlMs = configured.get(name) ?? (directive.kind === 'ttl' ? directive.ms : undefined);
    const cacheability = classifyReach({ relations: row.relations, texts: row.texts, functions: row.functions });
    if (ttlMs !== undefined && !cacheability.cacheable) warn(name, `not cached: ${cacheability.why}`);
    policies.set(name, { ttlMs, cacheability });
  }
  for (const name of configured.keys())
    if (!rows.some((r) => `${r.schema}.${r.name}` === name))
      warn(name, 'REST_CACHE_TABLES names a relation that is not in an exposed schema');
  return policies;
}

/** Warns once per relation and message, not on every reload. */
export function warnOnce(log: Logger): (relation: string, message: string) => void {
  const said = new Set<string>();
  return (relation, message) => {
    const key = `${relation}\u0000${message}`;
    if (said.has(key)) return;
    said.add(key);
    log.warn({ relation }, `response cache: ${relation}: ${message}`);
  };
}
