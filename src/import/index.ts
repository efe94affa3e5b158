/** The import module's door: `trellis import` of SQLite databases and dumps, and Supabase projects' PostgreSQL dumps. */
export { prepareSqliteImport, type SqliteImport, type SqliteImportOptions } from './import-sqlite.js';
export { detectSource, type SourceKind } from './source.js';
export type { UsersOptions } from './sqlite-schema.js';
export {
  importPgDump,
  isPgDumpFile,
  looksLikePgDump,
  renderPgDumpReport,
  type PgDumpImportOptions,
  type PgDumpReport,
  type S3Source,
} from './pg-dump.js';
