/**
 * The database's one door: everything outside src/db reaches PostgreSQL through what is exported
 * here (the pool and its claims-scoped transactions, the quoting function, migrations, the embedded
 * launcher). Nothing is implemented in this file.
 */
export { openDatabase, type OpenDatabase } from './open.js';
export { createDb, type Db, type PoolOptions, type PoolStats } from './pool.js';
export { API_ROLES, type Claims, type RequestGucs, type Tx, type TxOptions } from './claims.js';
export { ident } from './sql.js';
export { formatLsn, parseLsn, type Lsn } from './lsn.js';
export type { ReplicaSettings } from './replicas.js';
export type { ReplicaState, ReplicaStatus } from './replica-status.js';
export { viewColumnOrigins, type ColumnOrigin } from './view-origins.js';
export type { ForeignKey } from './view-keys.js';
export { forgetPreparedStatements } from './prepared.js';
export { describeConnectError, redactUrl } from './connect.js';
export {
  DatabaseOutage,
  classifyOutage,
  describeDbError,
  type OutageStage,
  type OutageKind,
  isPgError,
  type PgError,
} from './outage.js';
export { migrate, isMigrated, readMigrationFiles, type MigrationFile, type MigrationReport } from './migrate.js';
export { prepareRequestRole, scramVerifier } from './request-role.js';
export {
  runPartitionMaintenance,
  startPartitionMaintenance,
  type PartitionMaintenance,
  type PartitionRun,
} from './partitions.js';
export { dropProjectSchemas, projectSchemas, removeEmbeddedCluster } from './reset.js';
export {
  readCatalog,
  type Catalog,
  type CatalogColumn,
  type CatalogForeignKey,
  type CatalogFunction,
  type CatalogFunctionArg,
  type CatalogRelation,
  type CatalogType,
  type CatalogTypeRef,
} from './catalog.js';
export {
  listTables,
  digestTables,
  compareDigests,
  type TableRef,
  type TableDigest,
  type DigestDifference,
} from './table-digest.js';
export { copyTextRow, copyRowsIn, copyTableBetween, CopyValueError } from './copy.js';
export { startEmbedded, embeddedOwner, embeddedBinaries, type EmbeddedDatabase } from './embedded.js';
export {
  archiverStatus,
  beginInSnapshot,
  exportSnapshotAtLsn,
  inRecovery,
  serverVersion,
  startBaseBackup,
  stopBaseBackup,
  switchWal,
  tryBackupLock,
  releaseBackupLock,
  systemIdentifier,
  checkBtreeIndexes,
  type IndexCheck,
  walFileOf,
  type ArchiverStatus,
  type BackupStart,
  type BackupStop,
  type ExportedSnapshot,
} from './backup-api.js';
export { PROVIDED_EXTENSIONS, providedExtension } from './provided-extensions.js';
