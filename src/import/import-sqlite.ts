/**
 * `trellis import` of a SQLite database or dump: read and profile the source, plan, and (unless
 * it is a dry run) load the plan into the target database on one connection.
 */
import type pg from 'pg';
import { FatalError } from '../errors.js';
import { loadPlan, type LoadResult } from './load.js';
import { renderPlan, renderResult } from './report.js';
import { readSqlite } from './sqlite-read.js';
import { planImport } from './sqlite-plan.js';
import type { ImportPlan, UsersOptions } from './sqlite-schema.js';
import { openSource } from './source.js';

export interface SqliteImportOptions {
  readonly schema: string;
  readonly dryRun: boolean;
  readonly atomic: boolean;
  readonly replace: boolean;
  readonly users?: UsersOptions;
  /** Where the report goes (stdout); progress lines go to `progress` (stderr). */
  readonly out: (text: string) => void;
  readonly progress?: NodeJS.WritableStream;
}

export interface SqliteImport {
  readonly kind: 'sqlite' | 'sql-dump' | 'pg-dump';
  readonly plan?: ImportPlan;
  /** Loads the plan on `client` (unless a dry run); closes the source either way. */
  run(
    withClient: (fn: (client: pg.ClientBase) => Promise<LoadResult>) => Promise<LoadResult>,
  ): Promise<LoadResult | undefined>;
  close(): Promise<void>;
}

/** Opens, reads and plans; nothing is written until `run`. */
export async function prepareSqliteImport(file: string, options: SqliteImportOptions): Promise<SqliteImport> {
  const source = await openSource(file);
  if (source.kind === 'pg-dump') return { kind: 'pg-dump', run: async () => undefined, close: () => source.close() };
  try {
    const schema = readSqlite(source.db);
    if (schema.tables.length === 0)
      throw new FatalError(
        `${file} holds no table to import${schema.skipped.length > 0 ? ` (only ${schema.skipped.map((s) => s.name).join(', ')})` : ''}`,
      );
    const plan = planImport(schema, { schema: options.schema, ...(options.users ? { users: options.users } : {}) });
    const what = source.kind === 'sqlite' ? `${file} (SQLite database)` : `${file} (SQL dump)`;
    return {
      kind: source.kind,
      plan,
      async run(withClient) {
        if (options.dryRun) {
          options.out(`${renderPlan(plan, what)}\n-- dry run: nothing was written\n`);
          return undefined;
        }
        const result = await withClient((client) =>
          loadPlan(source.db, client, plan, {
            atomic: options.atomic,
            replace: options.replace,
            ...(options.progress ? { progressStream: options.progress } : {}),
          }),
        );
        options.out(renderResult(plan, result));
        return result;
      },
      close: () => source.close(),
    };
  } catch (err) {
    await source.close();
    throw err;
  }
}
