/**
 * `trellis storage verify`: compares what each bucket's rows name with what its store holds.
 * Rows without bytes (a store restored from an older backup, bytes removed by hand) and bytes
 * without rows (what the orphan sweep has not removed yet, or a store written by something else)
 * are listed, and sizes that differ from the row's. Writes in progress (a fresh entry in
 * trellis.storage_pending) and the parts of S3-endpoint multipart uploads are not problems.
 */
import type { Db } from '../db/index.js';
import { DEFAULT_STORE_NAME, type ObjectStore } from '../platform/store/index.js';

export interface BucketReport {
  readonly bucket: string;
  readonly store: string;
  /** Rows that name bytes. */
  readonly objects: number;
  /** Names of objects whose bytes the store does not have. */
  readonly missing: string[];
  /** Where the store keeps bytes no row names (file paths, S3 keys). */
  readonly orphaned: string[];
  /** Objects whose stored size is not the row's. */
  readonly wrongSize: { name: string; row: number; stored: number }[];
  /** While `trellis storage move` runs: the store it moves from, and how many objects are only there yet (not problems). */
  readonly moving?: { readonly from: string; readonly notCopiedYet: number };
}

export const problemsOf = (r: BucketReport): number => r.missing.length + r.orphaned.length + r.wrongSize.length;

/** The buckets to verify: `only` (each must exist), else every bucket. */
export async function bucketsToVerify(db: Db, only: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>('select id from storage.buckets order by id');
  const all = rows.map((r) => r.id);
  if (only.length === 0) return all;
  const unknown = only.filter((b) => !all.includes(b));
  if (unknown.length > 0) throw new Error(`no bucket ${unknown.map((b) => `"${b.slice(0, 64)}"`).join(', ')}`);
  return [...only];
}

/** The store a bucket keeps its bytes in, by name, and the one a move takes it from. */
export async function storeNameOf(db: Db, bucket: string): Promise<{ store: string; previous: string | undefined }> {
  const row = (
    await db.query<{ store: string; previous: string | null }>(
      'select store, previous from trellis.bucket_stores where bucket_id = $1',
      [bucket],
    )
  ).rows[0];
  return { store: row?.store ?? DEFAULT_STORE_NAME, previous: row?.previous ?? undefined };
}

const PAGE = 5000;

export async function verifyBucket(
  db: Db,
  stores: ReadonlyMap<string, ObjectStore>,
  bucket: string,
  onProgress: (objects: number) => void,
): Promise<BucketReport> {
  const { store: storeName, previous } = await storeNameOf(db, bucket);
  const store = stores.get(storeName);
  if (!store) throw new Error(`bucket "${bucket}" names store "${storeName}", which config.toml does not define`);

  // What the rows name, by where the store would keep it: locator → [name, size].
  const expected = new Map<string, { name: string; version: string; size: number | undefined }>();
  let after = '';
  for (;;) {
    const { rows } = await db.query<{ name: string; version: string; size: string | null }>(
      `select name, version, metadata->>'size' as size from storage.objects
        where bucket_id = $1 and version is not null and name collate "C" > $2
        order by name collate "C" limit ${PAGE}`,
      [bucket, after],
    );
    for (const r of rows)
      expected.set(store.locate({ bucket, name: r.name, version: r.version }), {
        name: r.name,
        version: r.version,
        size: r.size === null || !/^\d+$/.test(r.size) ? undefined : Number(r.size),
      });
    onProgress(rows.length);
    if (rows.length < PAGE) break;
    after = rows[rows.length - 1]!.name;
  }
  // Bytes that are not orphans though no object row names them.
  const { rows: others } = await db.query<{ name: string; version: string }>(
    `select key as name, version from storage.s3_multipart_uploads_parts where bucket_id = $1
     union all
     select name, version from trellis.storage_pending where bucket_id = $1 and kind = 'write'`,
    [bucket],
  );
  const accounted = new Set(others.map((r) => store.locate({ bucket, name: r.name, version: r.version })));

  const found = new Set<string>();
  const orphaned: string[] = [];
  const wrongSize: BucketReport['wrongSize'] = [];
  for await (const entry of store.list(bucket)) {
    const row = expected.get(entry.locator);
    if (row) {
      found.add(entry.locator);
      if (row.size !== undefined && row.size !== entry.size)
        wrongSize.push({ name: row.name, row: row.size, stored: entry.size });
    } else if (!accounted.has(entry.locator)) orphaned.push(entry.locator);
  }
  let absent = [...expected].filter(([locator]) => !found.has(locator)).map(([, row]) => row);
  // Mid-move, what the new store lacks may be in the old one still: not copied yet, not missing.
  const from = previous === undefined ? undefined : stores.get(previous);
  let moving: BucketReport['moving'];
  if (previous !== undefined && from && absent.length > 0) {
    const there = new Set<string>();
    for await (const entry of from.list(bucket)) there.add(entry.locator);
    const before = absent.length;
    absent = absent.filter((row) => !there.has(from.locate({ bucket, name: row.name, version: row.version })));
    moving = { from: previous, notCopiedYet: before - absent.length };
  } else if (previous !== undefined) moving = { from: previous, notCopiedYet: 0 };
  const missing = absent.map((row) => row.name);
  return { bucket, store: storeName, objects: expected.size, missing, orphaned, wrongSize, ...(moving && { moving }) };
}
