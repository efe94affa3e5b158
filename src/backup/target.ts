/**
 * The BackupTarget seam: where backups, shipped WAL and storage files go. Keys are '/'-separated:
 * `<id>/<piece>` for a backup, `wal/<segment>-<sha256>` for WAL, `storage/<path>` for storage files.
 * A backup is complete when its manifest exists; until then its pieces sit where `stagingKey` says.
 */
import type { Readable } from 'node:stream';

export interface TargetObject {
  readonly key: string;
  readonly size: number;
  readonly modified: Date;
}

export interface PutResult {
  readonly size: number;
  readonly sha256: string;
}

export interface BackupListing {
  readonly id: string;
  readonly complete: boolean;
}

export interface BackupTarget {
  /** How a message names it: a folder path or s3://bucket/prefix. */
  readonly where: string;
  /** Stores `body` under `key` atomically (no partial object is ever visible under the key). */
  put(key: string, body: Readable): Promise<PutResult>;
  /** Throws MissingBackupObject when there is none. */
  get(key: string): Promise<Readable>;
  /** Objects whose key starts with `prefix`. */
  list(prefix: string): Promise<TargetObject[]>;
  delete(keys: readonly string[]): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** The key of a piece of backup `id` while the backup is being made. */
  stagingKey(id: string, piece: string): string;
  /** Writes the manifest last, which makes the backup complete (and, on a folder, renames it into place). */
  complete(id: string, manifest: Buffer): Promise<void>;
  /** Every backup, complete or not, oldest first. */
  backups(): Promise<BackupListing[]>;
  /** Deletes a backup's pieces (and its manifest). */
  removeBackup(id: string, complete: boolean): Promise<void>;
  close(): Promise<void>;
}

export class MissingBackupObject extends Error {
  constructor(readonly key: string) {
    super(`no object ${key} in the backup target`);
    this.name = 'MissingBackupObject';
  }
}

/** Backup ids are UTC times, so that their order is their age: 20261202T011500123Z. */
export const BACKUP_ID = /^\d{8}T\d{9}Z$/;

export function newBackupId(now = new Date()): string {
  return now.toISOString().replace(/[-:.]/g, '');
}
