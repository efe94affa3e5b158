/** The import module's door: sources of existing data brought into a Trellis project. */
export {
  importPgDump,
  isPgDumpFile,
  looksLikePgDump,
  renderPgDumpReport,
  type PgDumpImportOptions,
  type PgDumpReport,
  type S3Source,
} from './pg-dump.js';
