/**
 * What the executor reads from the target around the run: its roles, extensions and settings
 * before, the project's tables left without row level security after.
 */
import type pg from 'pg';
import { SUPABASE_SCHEMAS, TRELLIS_SCHEMAS, type PlanContext } from './pg-dump-plan.js';
import type { PgDumpReport } from './pg-dump-report.js';

/**
 * The project's tables without row level security: as on Supabase, the data API lets anon and
 * authenticated read and write them (Trellis's default grants), so the report says so loudly.
 */
export async function warnOpenTables(client: pg.ClientBase, report: PgDumpReport): Promise<void> {
  const { rows } = await client.query<{ name: string }>(
    `select n.nspname || '.' || c.relname as name
       from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and not c.relrowsecurity and not c.relispartition
        and n.nspname <> all($1::text[]) and n.nspname not like 'pg\\_%' and n.nspname <> 'information_schema'
        and n.nspname <> 'trellis'
      order by 1`,
    [[...TRELLIS_SCHEMAS, ...SUPABASE_SCHEMAS]],
  );
  if (rows.length === 0) return;
  const names = rows.map((r) => r.name);
  report.warnings.push(
    `${names.length} table(s) without row level security: anyone with the anon key can read and change them through the data API (as on Supabase); enable it and add policies: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', …' : ''}`,
  );
}

export async function readContext(client: pg.ClientBase): Promise<PlanContext> {
  const list = async (sql: string) => new Set((await client.query<{ n: string }>(sql)).rows.map((r) => r.n));
  return {
    roles: await list('select rolname as n from pg_catalog.pg_roles'),
    extensions: await list('select name as n from pg_catalog.pg_available_extensions'),
    settings: await list('select name as n from pg_catalog.pg_settings'),
    currentUser: (await client.query<{ u: string }>('select current_user as u')).rows[0]?.u ?? 'postgres',
  };
}
