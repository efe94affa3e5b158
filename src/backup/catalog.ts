/** The backups a target holds: listing, reading manifests, choosing one for a restore, retention. */
import { FatalError } from '../errors.js';
import { parseManifest, type Manifest } from './manifest.js';
import { MissingBackupObject, type BackupTarget } from './target.js';
import { pruneShippedWal } from './wal.js';

export async function readText(target: BackupTarget, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await target.get(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function readManifest(target: BackupTarget, id: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readText(target, `${id}/manifest.json`);
  } catch (err) {
    if (err instanceof MissingBackupObject) throw new FatalError(`backup ${id} has no manifest in ${target.where}`);
    throw err;
  }
  const manifest = parseManifest(text);
  if (typeof manifest === 'string') throw new FatalError(`backup ${id} in ${target.where}: ${manifest}`);
  if (manifest.id !== id)
    throw new FatalError(`backup ${id} in ${target.where}: its manifest names backup ${manifest.id}`);
  return manifest;
}

export interface ListedBackup {
  readonly id: string;
  readonly complete: boolean;
  /** Complete backups only; a manifest that cannot be read is reported in `problem`. */
  readonly manifest?: Manifest;
  readonly problem?: string;
}

export async function listBackups(target: BackupTarget): Promise<ListedBackup[]> {
  const out: ListedBackup[] = [];
  for (const { id, complete } of await target.backups()) {
    if (!complete) {
      out.push({ id, complete });
      continue;
    }
    try {
      out.push({ id, complete, manifest: await readManifest(target, id) });
    } catch (err) {
      out.push({ id, complete: false, problem: (err as Error).message });
    }
  }
  return out;
}

/** Removes incomplete backups (call only while holding the backup lock: none can be in progress). */
export async function cleanIncomplete(target: BackupTarget): Promise<number> {
  let removed = 0;
  for (const b of await target.backups())
    if (!b.complete) {
      await target.removeBackup(b.id, false);
      removed++;
    }
  return removed;
}

/** For each cluster the kept backups come from, the first WAL segment its oldest backup needs. */
export function oldestSegments(kept: readonly ListedBackup[]): Map<string, string> {
  const oldest = new Map<string, string>();
  for (const b of kept) {
    const m = b.manifest;
    if (m?.kind !== 'embedded') continue;
    const seen = oldest.get(m.systemId);
    if (seen === undefined || m.startWal.slice(8) < seen.slice(8)) oldest.set(m.systemId, m.startWal);
  }
  return oldest;
}

export interface PruneReport {
  readonly removedBackups: readonly string[];
  readonly removedIncomplete: number;
  readonly removedWal: number;
}

/**
 * Keeps the newest `keep` complete backups, and the WAL the oldest of them needs. Call it holding the
 * backup lock of cluster `own` (when given, that cluster's WAL goes even with no backup left).
 */
export async function pruneBackups(target: BackupTarget, keep: number, own?: string): Promise<PruneReport> {
  const removedIncomplete = await cleanIncomplete(target);
  const complete = (await listBackups(target)).filter((b) => b.complete && b.manifest);
  const drop = complete.slice(0, Math.max(0, complete.length - keep));
  for (const b of drop) await target.removeBackup(b.id, true);
  const kept = complete.slice(drop.length);
  const removedWal = kept.some((b) => b.manifest?.kind === 'embedded')
    ? await pruneShippedWal(target, oldestSegments(kept), own)
    : 0;
  return { removedBackups: drop.map((b) => b.id), removedIncomplete, removedWal };
}
