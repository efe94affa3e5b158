/** Backups and point-in-time restore of the embedded cluster (docs/backups.md). */
export { createBackup, quietProgress, type BackupProgress } from './create.js';
export {
  listBackups,
  pruneBackups,
  readManifest,
  cleanIncomplete,
  type ListedBackup,
  type PruneReport,
} from './catalog.js';
export { openTarget, parseFrom } from './open.js';
export { parseRestoreTime, chooseBackup, storageFileParts } from './plan.js';
export { restoreBackup, prepareEmptyDir, pickBackup, type RestoreReport } from './restore.js';
export { verifyBackup, type VerifyReport } from './verify.js';
export { startBackupService, parseSchedule, type BackupService } from './service.js';
export { shipWal, shipStorage, pendingSegments } from './wal.js';
export { BACKUP_ID, type BackupTarget } from './target.js';
export type { Manifest, EmbeddedManifest } from './manifest.js';
export { parseManifest } from './manifest.js';
export { dumpServer, restoreDump } from './dump.js';
