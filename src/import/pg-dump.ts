/**
 * `trellis import <dump.sql>` for a PostgreSQL dump of a Supabase project (supabase db dump,
 * its --data-only form, or a plain pg_dump of the whole database): the project's own schemas and
 * data are replayed, Supabase's platform schemas are skipped, users, identities, buckets and
 * object rows go into Trellis's tables, and object files are copied into Trellis's store. All in
 * one transaction: a failure leaves nothing behind and names the dump line.
 */
import pg from 'pg';
import { readMigrationFiles } from '../db/index.js';
import { FatalError } from '../errors.js';
import { progress as defaultProgress, type Progress, type ProgressOptions } from '../platform/progress.js';
import type { ObjectStore } from '../platform/store/index.js';
import { runDump } from './pg-dump-exec.js';
import type { PgDumpReport } from './pg-dump-report.js';
import { openDump } from './pg-dump-source.js';
import { openStorageSource, type S3Source } from './pg-dump-storage.js';

export type { PgDumpReport } from './pg-dump-report.js';
export { renderPgDumpReport } from './pg-dump-report.js';
export { isPgDumpFile, looksLikePgDump } from './pg-dump-source.js';
export type { S3Source } from './pg-dump-storage.js';

export interface PgDumpImportOptions {
  /** The dump file (plain SQL, or gzip'd plain SQL). */
  readonly file: string;
  /** The database to import into (Trellis's own schema already applied). */
  readonly dbUrl: string;
  /** Where storage.objects' files come from; without one, object rows are not imported. */
  readonly storage?: { readonly dir?: string; readonly s3?: S3Source };
  /** Trellis's object store (needed with `storage`). */
  readonly store?: ObjectStore;
  /** Read the dump and print the plan; nothing is written. */
  readonly dryRun: boolean;
  /** One line of the run's account (skips, mappings, warnings). */
  readonly log: (line: string) => void;
  /**
   * The project's supabase/migrations: the dump's supabase_migrations.schema_migrations rows of
   * these versions are recorded (the imported schema already holds them), the others are not.
   */
  readonly migrationsDir?: string;
  /** Progress bars (default: src/platform/progress.ts on stderr). */
  readonly progress?: (label: string, options: ProgressOptions) => Progress;
}

export async function importPgDump(options: PgDumpImportOptions): Promise<PgDumpReport> {
  if (options.storage?.dir !== undefined && options.storage.s3 !== undefined)
    throw new FatalError('give one of --storage-dir and --storage-s3, not both');
  const lines = await openDump(options.file);
  const migrations =
    options.migrationsDir === undefined
      ? undefined
      : (await readMigrationFiles(options.migrationsDir, () => undefined)).map((m) => m.version);
  const source = options.storage ? await openStorageSource(options.storage) : undefined;
  if (source && !options.store && !options.dryRun)
    throw new FatalError('storage files need the project’s object store');
  // A connection of its own, not the pool's: the pool pipelines queries, which COPY streams cannot
  // share, and the dump's SET commands must not reach connections that serve requests.
  const client = new pg.Client({ connectionString: options.dbUrl, application_name: 'trellis import' });
  client.on('error', () => undefined);
  try {
    await client.connect().catch((err: unknown) => {
      throw new FatalError(`cannot connect to the database: ${(err as Error).message}`);
    });
    return await runDump(client, lines, {
      file: options.file,
      dryRun: options.dryRun,
      log: options.log,
      progress: options.progress ?? defaultProgress,
      source,
      store: options.store,
      migrations,
    });
  } finally {
    await source?.close();
    await client.end().catch(() => undefined);
  }
}
