/**
 * Rows of Supabase's auth and storage tables, loaded into Trellis's tables of the same names by
 * column intersection. The dump's rows first land in a temporary table with the dump's column
 * list (typed as Trellis's columns, text where Trellis has none), then go over in dependency
 * order once the dump moves on to other work: so a full dump's alphabetical order (identities
 * before users) and a data-only dump's foreign-key order both load, and any post-data DDL (a
 * foreign key to auth.users, a trigger) sees the rows.
 */
import type pg from 'pg';
import { ident } from '../db/index.js';
import { FatalError } from '../errors.js';
import { MAPPED_TABLES, type MappedTable } from './pg-dump-plan.js';
import type { TableLoad } from './pg-dump-report.js';

interface TargetColumn {
  readonly name: string;
  readonly type: string;
  readonly generated: boolean;
  readonly notNull: boolean;
  readonly default: string | null;
}

export interface Stage {
  readonly table: MappedTable;
  /** `pg_temp."trellis_import_auth_users"`. */
  readonly name: string;
  readonly sourceColumns: readonly string[];
  /** source column → Trellis column, for the columns both have. */
  readonly pairs: readonly (readonly [string, string])[];
  readonly targetColumns: readonly TargetColumn[];
  readonly load: TableLoad;
  pending: boolean;
}

/** The stage for `table` with these source columns, made on first use. */
export async function stageFor(
  client: pg.ClientBase,
  stages: Map<MappedTable, Stage>,
  table: MappedTable,
  sourceColumns: readonly string[],
  load: TableLoad,
): Promise<Stage> {
  const existing = stages.get(table);
  if (existing) {
    if (existing.sourceColumns.join('\0') !== sourceColumns.join('\0'))
      throw new FatalError(`${table}: two data blocks with different column lists`);
    return existing;
  }
  if (sourceColumns.length === 0)
    throw new FatalError(`${table}: its rows have no column list; dump with pg_dump --column-inserts (or COPY)`);
  const [schema, relation] = table.split('.') as [string, string];
  const { columns, pairs, dropped, defs } = await columnPlan(client, table, sourceColumns);
  load.droppedColumns = dropped;
  const name = `pg_temp.${ident(`trellis_import_${schema}_${relation}`)}`;
  await client.query(`create temporary table ${name} (${defs.join(', ')}) on commit drop`);
  const stage: Stage = { table, name, sourceColumns, pairs, targetColumns: columns, load, pending: false };
  stages.set(table, stage);
  return stage;
}

/**
 * How the dump's columns meet Trellis's: the pairs both have, the dump's columns Trellis lacks
 * (or generates itself), and the stage's column definitions. Read-only (--dry-run uses it too).
 */
export async function columnPlan(
  client: pg.ClientBase,
  table: MappedTable,
  sourceColumns: readonly string[],
): Promise<{ columns: TargetColumn[]; pairs: [string, string][]; dropped: string[]; defs: string[] }> {
  const [schema, relation] = table.split('.') as [string, string];
  const columns = (
    await client.query<TargetColumn>(
      `select a.attname as name, pg_catalog.format_type(a.atttypid, a.atttypmod) as type,
              a.attgenerated <> '' as generated, a.attnotnull as "notNull",
              pg_catalog.pg_get_expr(d.adbin, d.adrelid) as default
         from pg_catalog.pg_attribute a
         left join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where a.attrelid = pg_catalog.to_regclass($1) and a.attnum > 0 and not a.attisdropped
        order by a.attnum`,
      [`${ident(schema)}.${ident(relation)}`],
    )
  ).rows;
  const byName = new Map(columns.filter((c) => !c.generated).map((c) => [c.name, c]));
  const rename = renames(table, sourceColumns);
  const pairs: [string, string][] = [];
  const dropped: string[] = [];
  const defs = sourceColumns.map((source) => {
    const target = byName.get(rename.get(source) ?? source);
    if (target) pairs.push([source, target.name]);
    else dropped.push(source);
    const type = target && !rename.has(source) ? target.type : 'text';
    return `${ident(source)} ${type}`;
  });
  return { columns, pairs, dropped, defs };
}

/**
 * Supabase Auth before November 2023 named the provider's id `identities.id` (text) and had no
 * uuid id; that column is Trellis's provider_id, and the row gets a fresh id.
 */
function renames(table: MappedTable, sourceColumns: readonly string[]): Map<string, string> {
  if (table === 'auth.identities' && !sourceColumns.includes('provider_id') && sourceColumns.includes('id'))
    return new Map([['id', 'provider_id']]);
  return new Map();
}

/**
 * Moves the pending stages into Trellis's tables in dependency order. `beforeInsert` runs first for
 * each (the object files are copied there) and may delete rows from the stage.
 */
export async function flushStages(
  client: pg.ClientBase,
  stages: Map<MappedTable, Stage>,
  beforeInsert: (stage: Stage) => Promise<void>,
): Promise<void> {
  for (const table of MAPPED_TABLES) {
    const stage = stages.get(table);
    if (!stage?.pending) continue;
    stage.pending = false;
    await beforeInsert(stage);
    const target = new Map(stage.targetColumns.map((c) => [c.name, c]));
    const into = stage.pairs.map(([, t]) => ident(t));
    // A NULL where Trellis requires a value and has a default (raw_app_meta_data, created_at…)
    // takes the default: older Supabase rows leave some of these empty.
    const values = stage.pairs.map(([s, t]) => {
      const column = target.get(t);
      return column?.notNull && column.default ? `coalesce(${ident(s)}, ${column.default})` : ident(s);
    });
    const [schema, relation] = table.split('.') as [string, string];
    // A migration already recorded stays as it is. A bucket config.toml already made (`[storage.buckets.avatars]`) is kept as it is; any other
    // clash (a user or object already here) is an error: the import is meant for a new project.
    const conflict =
      table === 'storage.buckets'
        ? ' on conflict (id) do nothing'
        : table === 'supabase_migrations.schema_migrations'
          ? ' on conflict (version) do nothing'
          : '';
    try {
      const staged = conflict
        ? Number((await client.query<{ n: string }>(`select count(*) as n from ${stage.name}`)).rows[0]?.n ?? 0)
        : 0;
      const result = await client.query(
        `insert into ${ident(schema)}.${ident(relation)} (${into.join(', ')}) select ${values.join(', ')} from ${stage.name}${conflict}`,
      );
      stage.load.rows += result.rowCount ?? 0;
      const kept = staged - (result.rowCount ?? 0);
      if (table === 'storage.buckets' && kept > 0)
        stage.load.note = `${kept} already here (config.toml), kept as they are`;
      await client.query(`truncate ${stage.name}`);
    } catch (err) {
      throw new FatalError(`loading the dump's ${table} rows into Trellis's ${table}: ${(err as Error).message}`);
    }
  }
}

/**
 * The dump's migration history, for the versions the project has files for: recorded, they are
 * not run again on the imported schema. The others are dropped (Trellis has no file to match).
 */
export async function keepProjectMigrations(
  client: pg.ClientBase,
  stage: Stage,
  versions: readonly string[] | undefined,
): Promise<void> {
  const dropped = await client.query(`delete from ${stage.name} where not (version::text = any($1::text[]))`, [
    versions ?? [],
  ]);
  const n = dropped.rowCount ?? 0;
  if (n > 0)
    stage.load.note = `${n} without a file in supabase/migrations not recorded${versions ? '' : ' (no project folder)'}`;
}
