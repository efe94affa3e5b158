/** The import module's door: `trellis import` of SQLite databases and dumps, and PostgreSQL dumps. */
export { prepareSqliteImport, type SqliteImport, type SqliteImportOptions } from './import-sqlite.js';
export { importPgDump } from './pg-dump.js';
export { detectSource, type SourceKind } from './source.js';
export type { UsersOptions } from './sqlite-schema.js';
