/**
 * The target's side of a move: is it a server a project can live on, is it empty of project data,
 * and, when a move fails half way, taking back what the move made there.
 */
import type pg from 'pg';
import { FatalError, errorMessage } from '../errors.js';
import { ident } from '../db/index.js';
import { listSome } from './plan.js';

/** Trellis's own schemas: a target holding any of them already has a project (or half of one). */
const TRELLIS_SCHEMAS = ['trellis', 'auth', 'storage', 'realtime', 'supabase_migrations'];
export const MIN_SERVER_VERSION = 140000;

export interface ServerFacts {
  readonly versionNum: number;
  readonly version: string;
  readonly superuser: boolean;
}

export async function serverFacts(client: pg.ClientBase): Promise<ServerFacts> {
  const { rows } = await client.query<{ num: string; version: string; superuser: string }>(
    `select current_setting('server_version_num') as num, current_setting('server_version') as version,
            current_setting('is_superuser') as superuser`,
  );
  const row = rows[0];
  return { versionNum: Number(row?.num), version: row?.version ?? '?', superuser: row?.superuser === 'on' };
}

export function checkVersion(facts: ServerFacts, label: string): void {
  if (facts.versionNum < MIN_SERVER_VERSION)
    throw new FatalError(`${label} runs PostgreSQL ${facts.version}; Trellis needs PostgreSQL 14 or later`);
}

/**
 * What on the target is project data: Trellis's schemas, the source's own schemas, and anything in
 * `public` (relations, functions, types). Roles are the whole server's and may exist already.
 */
export async function projectDataOn(client: pg.ClientBase, sourceSchemas: readonly string[]): Promise<string[]> {
  const schemas = [
    ...new Set([...TRELLIS_SCHEMAS, ...sourceSchemas.filter((s) => s !== 'public' && s !== 'extensions')]),
  ];
  const found = await client.query<{ what: string }>(
    `select 1 as rank, 'schema ' || nspname as what from pg_namespace where nspname = any($1::text[])
     union all
     select 2, case c.relkind when 'r' then 'table ' when 'p' then 'table ' when 'v' then 'view '
                 when 'm' then 'materialized view ' when 'S' then 'sequence ' else 'relation ' end
            || 'public.' || c.relname
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
     union all
     select 3, 'function public.' || p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'public'
        and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
     union all
     select 4, 'type public.' || t.typname from pg_type t join pg_namespace n on n.oid = t.typnamespace
      where n.nspname = 'public' and t.typtype in ('e', 'd', 'r') 
        and not exists (select 1 from pg_depend d where d.objid = t.oid and d.deptype = 'e')
     order by 1, 2`,
    [schemas],
  );
  return found.rows.map((r) => r.what);
}

export function refuseNonEmpty(found: readonly string[], label: string, hint?: string): void {
  if (found.length === 0) return;
  throw new FatalError(
    `${label} already holds project data (${listSome(found)}); a move needs an empty database: ${hint ?? 'create a new one, or empty this one yourself'}`,
  );
}

/** What exists before the move writes anything, so a failure can remove exactly what it added. */
export interface Footprint {
  readonly schemas: readonly string[];
  readonly extensions: readonly string[];
  readonly publications: readonly string[];
}

export async function footprint(client: pg.ClientBase): Promise<Footprint> {
  // One after the other: a pg client runs one query at a time.
  const schemas = await client.query<{ n: string }>('select nspname as n from pg_namespace');
  const extensions = await client.query<{ n: string }>('select extname as n from pg_extension');
  const publications = await client.query<{ n: string }>('select pubname as n from pg_publication');
  return {
    schemas: schemas.rows.map((r) => r.n),
    extensions: extensions.rows.map((r) => r.n),
    publications: publications.rows.map((r) => r.n),
  };
}

/**
 * Takes the target back to its footprint: the schemas, extensions and publications the move made go,
 * and `public` (empty before: the move checked) is made anew. Roles stay: they belong to the whole
 * server, other databases may use them. Returns what it removed, for the message.
 */
export async function undoMove(client: pg.ClientBase, before: Footprint): Promise<string[]> {
  const now = await footprint(client);
  const removed: string[] = [];
  try {
    await client.query('rollback').catch(() => undefined);
    await client.query('begin');
    for (const p of now.publications.filter((p) => !before.publications.includes(p))) {
      await client.query(`drop publication ${ident(p)}`);
      removed.push(`publication ${p}`);
    }
    for (const s of now.schemas.filter((s) => !before.schemas.includes(s))) {
      await client.query(`drop schema ${ident(s)} cascade`);
      removed.push(`schema ${s}`);
    }
    const left = (await client.query<{ n: string }>('select extname as n from pg_extension')).rows.map((r) => r.n);
    for (const e of left.filter((e) => !before.extensions.includes(e))) {
      await client.query(`drop extension ${ident(e)} cascade`);
      removed.push(`extension ${e}`);
    }
    await client.query('drop schema if exists public cascade');
    await client.query('create schema public');
    await client.query('grant usage on schema public to public');
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw new FatalError(
      `the move failed, and so did removing what it made on the target (${errorMessage(err)}); drop the schemas ${listSome(
        now.schemas.filter((s) => !before.schemas.includes(s)),
      )} yourself`,
    );
  }
  // PostgreSQL 15 gives public to pg_database_owner; a PostgreSQL 14 server has no such role.
  await client.query('alter schema public owner to pg_database_owner').catch(() => undefined);
  return removed;
}
