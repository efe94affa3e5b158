/**
 * PostgREST's in-database configuration: `alter role authenticator set pgrst.db_plan_enabled to
 * 'true'` (optionally `in database …`). PostgREST reads the `pgrst.*` settings of the role it logs
 * in as; a Supabase project's is `authenticator`, so a migration written for Supabase names that
 * role, and Trellis reads that role's settings whatever login its requests use. They are read with
 * the schema cache, and override the environment, as PostgREST's do.
 */
import type { Config } from '../config.js';
import type { Db } from '../db/index.js';

/** The settings of /rest/v1 that the database may override. */
export interface RestSettings {
  readonly maxRows: number;
  readonly aggregatesEnabled: boolean;
  readonly planEnabled: boolean;
  readonly txEnd: Config['rest']['txEnd'];
  /** Where PostGIS is installed, found with the schema cache (geo+json needs its ST_AsGeoJSON). */
  readonly postgisSchema?: string | undefined;
}

/** The `pgrst.*` names read (without the prefix), as PostgREST names them. */
export const DB_SETTING_NAMES = ['db_aggregates_enabled', 'db_max_rows', 'db_plan_enabled', 'db_tx_end'] as const;

/**
 * A role-and-database setting wins over a role-wide one (PostgREST's order); a setting on the
 * database alone is not read, as PostgREST does not read it.
 */
const QUERY = `
select distinct on (k) replace(k, 'pgrst.', '') as key, v as value
from (select s.setdatabase as database,
             substr(c, 1, strpos(c, '=') - 1) as k,
             substr(c, strpos(c, '=') + 1) as v
      from pg_catalog.pg_db_role_setting s cross join unnest(s.setconfig) as c
      where s.setrole = (select oid from pg_catalog.pg_roles where rolname = 'authenticator')
        and s.setdatabase in (0, (select oid from pg_catalog.pg_database where datname = current_database()))) as kv
where k = any($1)
order by k, database desc`;

export async function loadDbSettings(db: Db): Promise<Record<string, string>> {
  const names = DB_SETTING_NAMES.map((n) => `pgrst.${n}`);
  const rows = (await db.query<{ key: string; value: string }>(QUERY, [names])).rows;
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}

export async function loadPostgisSchema(db: Db): Promise<string | undefined> {
  const rows = (
    await db.query<{ schema: string }>(
      `select n.nspname as schema from pg_catalog.pg_extension e join pg_catalog.pg_namespace n on n.oid = e.extnamespace where e.extname = 'postgis'`,
    )
  ).rows;
  return rows[0]?.schema;
}

const TX_ENDS: readonly RestSettings['txEnd'][] = [
  'commit',
  'commit-allow-override',
  'rollback',
  'rollback-allow-override',
];

/**
 * The environment's settings with the database's over them. A value that does not parse is left
 * out and named in `ignored`, so a typo in a migration is logged rather than ending the server.
 * Pure.
 */
export function applyDbSettings(
  base: RestSettings,
  raw: Readonly<Record<string, string>>,
): { readonly settings: RestSettings; readonly ignored: readonly string[] } {
  const ignored: string[] = [];
  const bool = (name: string, fallback: boolean): boolean => {
    const value = raw[name];
    if (value === undefined) return fallback;
    const v = value.trim().toLowerCase();
    if (['true', 'on', 'yes', '1'].includes(v)) return true;
    if (['false', 'off', 'no', '0'].includes(v)) return false;
    ignored.push(`pgrst.${name}=${value}`);
    return fallback;
  };
  let maxRows = base.maxRows;
  const rows = raw.db_max_rows;
  if (rows !== undefined) {
    if (/^\s*\d{1,9}\s*$/.test(rows) && Number(rows) > 0) maxRows = Number(rows);
    else ignored.push(`pgrst.db_max_rows=${rows}`);
  }
  let txEnd = base.txEnd;
  const tx = raw.db_tx_end;
  if (tx !== undefined) {
    const found = TX_ENDS.find((t) => t === tx.trim().toLowerCase());
    if (found) txEnd = found;
    else ignored.push(`pgrst.db_tx_end=${tx}`);
  }
  return {
    settings: {
      maxRows,
      aggregatesEnabled: bool('db_aggregates_enabled', base.aggregatesEnabled),
      planEnabled: bool('db_plan_enabled', base.planEnabled),
      txEnd,
      postgisSchema: base.postgisSchema,
    },
    ignored,
  };
}

/**
 * How a request's transaction ends under `txEnd`: `Prefer: tx=` counts only where the setting
 * allows an override (PostgREST drops it otherwise, and does not answer it as applied).
 */
export function transactionEnd(
  txEnd: RestSettings['txEnd'],
  preferred: 'commit' | 'rollback' | undefined,
): { readonly rollback: boolean; readonly applied: 'commit' | 'rollback' | undefined } {
  const allowed = txEnd.endsWith('-allow-override');
  const applied = allowed ? preferred : undefined;
  const byDefault = txEnd.startsWith('rollback');
  return { rollback: applied === 'rollback' || (byDefault && applied !== 'commit'), applied };
}

/** The preferences with `tx` as it applies (dropped when db-tx-end allows no override). */
export function withTx<P extends { readonly tx?: 'commit' | 'rollback' }>(prefer: P, applied: P['tx']): P {
  const { tx: _dropped, ...rest } = prefer;
  return (applied ? { ...rest, tx: applied } : rest) as P;
}
