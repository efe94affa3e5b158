/**
 * Shipping what the archiver leaves in `.trellis/wal-archive` to the target, gzip'd
 * (`wal/<system id>/<name>.gz-<sha256 of the gzip>`, the checksum in the key so both kinds of target
 * keep it the same way; a segment closed early by archive_timeout is mostly zeros and shrinks to a
 * few KiB), and the storage files to
 * `storage/`. A local segment is deleted once the target has it: restores read from the target, so
 * the local archive never grows past what is not shipped yet.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { BackupTarget } from './target.js';

/** Segments, history files and backup history files, as PostgreSQL names them (not basic_archive's temp files). */
const ARCHIVED = /^([0-9A-F]{24}(\.[0-9A-F]{8}\.backup|\.partial)?|[0-9A-F]{8}\.history)$/;
const SHIPPED =
  /^wal\/(\d+)\/([0-9A-F]{24}(?:\.[0-9A-F]{8}\.backup|\.partial)?|[0-9A-F]{8}\.history)(\.gz)?-([0-9a-f]{64})$/;
const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);

export interface ShippedWal {
  readonly key: string;
  /** The cluster's system identifier. */
  readonly system: string;
  readonly name: string;
  /** Of the object as stored (the gzip, when `gzipped`). */
  readonly sha256: string;
  readonly gzipped: boolean;
  readonly modified: Date;
}

export function parseShippedKey(key: string, modified: Date): ShippedWal | undefined {
  const m = SHIPPED.exec(key);
  return m ? { key, system: m[1]!, name: m[2]!, gzipped: m[3] !== undefined, sha256: m[4]!, modified } : undefined;
}

/** Log and segment number of a segment-like name, for ordering across timelines ('' for history files). */
export const segmentPosition = (name: string): string => (/^[0-9A-F]{24}/.test(name) ? name.slice(8, 24) : '');

export async function shippedWal(target: BackupTarget, system?: string): Promise<ShippedWal[]> {
  return (await target.list(system === undefined ? 'wal/' : `wal/${system}/`))
    .map((o) => parseShippedKey(o.key, o.modified))
    .filter((w): w is ShippedWal => w !== undefined);
}

export interface ShipReport {
  readonly shipped: number;
  readonly bytes: number;
  /** Segments still waiting in the local archive (failed this time). */
  readonly pending: number;
}

export async function shipWal(archiveDir: string, target: BackupTarget, system: string): Promise<ShipReport> {
  const names = (await fsp.readdir(archiveDir).catch(() => [] as string[])).filter((n) => ARCHIVED.test(n)).sort();
  if (names.length === 0) return { shipped: 0, bytes: 0, pending: 0 };
  const have = new Set((await shippedWal(target, system)).map((w) => w.name));
  let shipped = 0;
  let bytes = 0;
  for (const name of names) {
    const file = path.join(archiveDir, name);
    if (!have.has(name)) {
      let body: fs.ReadStream;
      try {
        const handle = await fsp.open(file, 'r');
        body = handle.createReadStream();
      } catch (err) {
        // Shipped and removed by another shipper (the server's service and a `trellis backup`) meanwhile.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      const { size } = await putWithName(target, system, name, body);
      shipped++;
      bytes += size;
    }
    await fsp.rm(file, { force: true });
  }
  return { shipped, bytes, pending: 0 };
}

/** Read whole (a segment is 16 MiB) so that the key can carry the sha256 of what is uploaded. */
async function putWithName(target: BackupTarget, system: string, name: string, body: fs.ReadStream) {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  // Level 1: WAL is mostly zeros or already dense; higher levels cost time and win little.
  const bytes = await gzip(Buffer.concat(chunks), { level: 1 });
  const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
  await target.put(`wal/${system}/${name}.gz-${sha256}`, Readable.from([bytes]));
  return { sha256, size: bytes.length };
}

/** A shipped WAL file's bytes as PostgreSQL wrote them, after checking them against the key's checksum. */
export async function walBytes(w: ShippedWal, stored: Buffer): Promise<Buffer | undefined> {
  if (crypto.createHash('sha256').update(stored).digest('hex') !== w.sha256) return undefined;
  return w.gzipped ? gunzip(stored) : stored;
}

/** Deletes the local archive (call holding the backup lock, with no backup in the target: no restore can use it). */
export async function dropLocalArchive(archiveDir: string): Promise<number> {
  const names = (await fsp.readdir(archiveDir).catch(() => [] as string[])).filter((n) => ARCHIVED.test(n));
  await Promise.all(names.map((n) => fsp.rm(path.join(archiveDir, n), { force: true })));
  return names.length;
}

/** Unshipped segments in the local archive (for /metrics). */
export async function pendingSegments(archiveDir: string): Promise<number> {
  return (await fsp.readdir(archiveDir).catch(() => [] as string[])).filter((n) => ARCHIVED.test(n)).length;
}

/** Copies storage files the target does not have yet (they are immutable: a name is never rewritten). */
export async function shipStorage(storageDir: string, target: BackupTarget): Promise<number> {
  const local: string[] = [];
  const walk = async (rel: string) => {
    const entries = await fsp.readdir(path.join(storageDir, rel), { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const child = rel === '' ? e.name : `${rel}/${e.name}`;
      if (rel === '' && e.name === '.tmp') continue;
      if (e.isDirectory()) await walk(child);
      else if (e.isFile()) local.push(child);
    }
  };
  await walk('');
  if (local.length === 0) return 0;
  const have = new Set((await target.list('storage/')).map((o) => o.key.slice('storage/'.length)));
  let copied = 0;
  for (const rel of local) {
    if (have.has(rel)) continue;
    const handle = await fsp.open(path.join(storageDir, rel), 'r').catch(() => undefined);
    if (!handle) continue; // removed since listed
    await target.put(`storage/${rel}`, handle.createReadStream());
    copied++;
  }
  return copied;
}

/**
 * Deletes shipped WAL no kept backup needs: from before the oldest backup of its cluster (`oldest`:
 * system id → first segment). The WAL of a cluster with no kept backup goes only when that cluster
 * is `own` and the caller holds its backup lock: another cluster's (a project sharing the target)
 * or one whose first backup is under way may be needed by a backup not complete yet. History files
 * are kept.
 */
export async function pruneShippedWal(
  target: BackupTarget,
  oldest: ReadonlyMap<string, string>,
  own?: string,
): Promise<number> {
  const old = (await shippedWal(target)).filter((w) => {
    const first = oldest.get(w.system);
    if (first === undefined) return w.system === own;
    const pos = segmentPosition(w.name);
    return pos !== '' && pos < segmentPosition(first);
  });
  await target.delete(old.map((w) => w.key));
  return old.length;
}
