/**
 * The running server's backup service (embedded database only): every few seconds it ships the
 * archived WAL and new storage files to the target; on BACKUP_SCHEDULE it takes a backup (one
 * instance at a time: the backup's advisory lock) and prunes to BACKUP_KEEP. It also feeds /metrics
 * and /ready's `backup` section.
 */
import { Cron } from 'croner';
import { Counter, Gauge, type Registry } from 'prom-client';
import pg from 'pg';
import type { Config } from '../config.js';
import { archiverStatus, releaseBackupLock, systemIdentifier, tryBackupLock } from '../db/index.js';
import { FatalError, errorMessage } from '../errors.js';
import type { Logger } from '../platform/logger.js';
import { listBackups, oldestSegments, pruneBackups } from './catalog.js';
import { createBackup, quietProgress } from './create.js';
import { openTarget } from './open.js';
import type { BackupTarget } from './target.js';
import { dropLocalArchive, pendingSegments, pruneShippedWal, shipStorage, shipWal } from './wal.js';

export interface BackupService {
  /** /ready's `backup` section. */
  status(): Readonly<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface BackupServiceOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly registry: Registry;
  /** Superuser URL of the embedded cluster. */
  readonly dbUrl: string;
}

/** Checks BACKUP_SCHEDULE at start, so a typo fails the start instead of silently never backing up. */
export function parseSchedule(expression: string): Cron | string {
  try {
    return new Cron(expression, { paused: true });
  } catch (err) {
    return `"${expression}" is not a cron expression: ${errorMessage(err)}`;
  }
}

export async function startBackupService(options: BackupServiceOptions): Promise<BackupService> {
  const { config, log, registry, dbUrl } = options;
  if (config.backup.schedule) {
    const parsed = parseSchedule(config.backup.schedule);
    if (typeof parsed === 'string') throw new FatalError(parsed, 'BACKUP_SCHEDULE');
    parsed.stop();
  }
  const target: BackupTarget = await openTarget(config.backup.target, config.backup.s3, false);
  const systemId = await withClient(dbUrl, systemIdentifier);
  let lastSuccess: Date | undefined;
  let lastDuration: number | undefined;
  let lastError: string | undefined;
  let oldestUnshipped: Date | undefined;
  let pending = 0;
  const failures = new Counter({
    name: 'trellis_wal_archive_failures_total',
    help: 'Failed WAL archiving attempts (PostgreSQL archiver) and failed shipping passes to BACKUP_TARGET.',
    registers: [registry],
  });
  let archiverFailures = 0;
  new Gauge({
    name: 'trellis_backup_last_success_timestamp_seconds',
    help: 'Unix time at which the newest complete backup in BACKUP_TARGET ended (0: none).',
    registers: [registry],
    collect() {
      this.set(lastSuccess ? lastSuccess.getTime() / 1000 : 0);
    },
  });
  new Gauge({
    name: 'trellis_backup_last_duration_seconds',
    help: 'How long the newest complete backup took.',
    registers: [registry],
    collect() {
      if (lastDuration !== undefined) this.set(lastDuration);
    },
  });
  new Gauge({
    name: 'trellis_wal_archive_lag_seconds',
    help: 'Age of the oldest archived WAL file not yet shipped to BACKUP_TARGET (0: all shipped).',
    registers: [registry],
    collect() {
      this.set(oldestUnshipped ? (Date.now() - oldestUnshipped.getTime()) / 1000 : 0);
    },
  });
  new Gauge({
    name: 'trellis_wal_archive_pending_segments',
    help: 'WAL files archived locally and not yet shipped to BACKUP_TARGET.',
    registers: [registry],
    collect() {
      this.set(pending);
    },
  });

  /** The target's complete backups, newest last; the last success is read off them. */
  const refreshLast = async () => {
    const complete = (await listBackups(target)).filter((b) => b.complete && b.manifest);
    const newest = complete.at(-1)?.manifest;
    if (newest) {
      lastSuccess = new Date(newest.stopTime);
      lastDuration = (lastSuccess.getTime() - new Date(newest.startTime).getTime()) / 1000;
    }
    return complete;
  };

  /** Runs `work` holding this cluster's backup lock; undefined when a backup (CLI or another instance) holds it. */
  const underLock = <T>(work: () => Promise<T>): Promise<T | undefined> =>
    withClient(dbUrl, async (c) => {
      if (!(await tryBackupLock(c))) return undefined;
      try {
        return await work();
      } finally {
        await releaseBackupLock(c);
      }
    });

  let stopped = false;
  let busy: Promise<void> = Promise.resolve();
  const pass = async () => {
    try {
      const status = await withClient(dbUrl, archiverStatus);
      if (status.failedCount > archiverFailures) failures.inc(status.failedCount - archiverFailures);
      archiverFailures = status.failedCount;
      const ship = async () => {
        await shipWal(config.backup.archiveDir, target, systemId);
        await shipStorage(config.storage.localDir, target);
      };
      // Only this cluster's backups make its WAL worth shipping. Shipping only adds, so it goes on
      // while a backup runs; deleting (old WAL, or the archive when no backup could replay it) only
      // under the backup lock, asking again there: a backup may have completed meanwhile, and one
      // under way needs the WAL it has shipped.
      const ours = (await refreshLast()).some(
        (b) => b.manifest?.kind === 'embedded' && b.manifest.systemId === systemId,
      );
      const locked = await underLock(async () => {
        const complete = await refreshLast();
        const oldest = oldestSegments(complete);
        await pruneShippedWal(target, oldest, systemId);
        if (oldest.has(systemId)) await ship();
        else await dropLocalArchive(config.backup.archiveDir);
        return true;
      });
      if (!locked && ours) await ship();
      pending = await pendingSegments(config.backup.archiveDir);
      oldestUnshipped = pending === 0 ? undefined : (oldestUnshipped ?? new Date());
      lastError = undefined;
    } catch (err) {
      failures.inc();
      lastError = errorMessage(err);
      oldestUnshipped ??= new Date();
      log.warn(`backup service: shipping to ${target.where} failed: ${lastError}`);
    }
  };
  const timer = setInterval(() => {
    if (!stopped) busy = busy.then(pass);
  }, config.backup.shipIntervalS * 1000);
  timer.unref();
  busy = busy.then(pass);

  const cron = config.backup.schedule
    ? new Cron(config.backup.schedule, { protect: true }, () => {
        busy = busy.then(async () => {
          if (stopped) return;
          try {
            const manifest = await createBackup({ config, dbUrl, target, progress: quietProgress, label: 'scheduled' });
            const pruned = await underLock(() => pruneBackups(target, config.backup.keep, systemId));
            if (!pruned) return; // a backup started meanwhile; the next scheduled one prunes
            log.info(
              { backup: manifest.id, pruned: pruned.removedBackups },
              `scheduled backup ${manifest.id} complete${pruned.removedBackups.length > 0 ? `; pruned ${pruned.removedBackups.join(', ')}` : ''}`,
            );
            await refreshLast();
          } catch (err) {
            // Another instance holds the lock: it takes this one.
            if (err instanceof FatalError && /another backup/.test(err.message))
              log.info('scheduled backup: another instance is taking it');
            else log.error(`scheduled backup failed: ${errorMessage(err)}`);
          }
        });
      })
    : undefined;

  return {
    status: () => ({
      // No target path and no error text: /ready answers anyone, and both can name endpoints and
      // folders. The log has the error; /metrics has the failures.
      backup: {
        lastSuccess: lastSuccess?.toISOString() ?? null,
        archiveLagSeconds: oldestUnshipped ? Math.round((Date.now() - oldestUnshipped.getTime()) / 1000) : 0,
        pendingSegments: pending,
        schedule: config.backup.schedule ?? null,
        shippingFailed: lastError !== undefined,
      },
    }),
    async close() {
      stopped = true;
      clearInterval(timer);
      cron?.stop();
      await busy.catch(() => undefined);
      await target.close();
    },
  };
}

async function withClient<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
