/**
 * Nothing orphaned: an object store whose writes are entered in trellis.storage_pending before
 * their bytes become visible (src/sql/0180_storage_pending.sql). The row's own transaction settles the entry
 * (a trigger on storage.objects), and enters the versions a row stops naming as `doomed`; removing
 * bytes removes their entry. So whatever dies between the bytes and the row (the process, the
 * connection), its entry stays, and the sweep (at start, then every STORAGE_ORPHAN_SWEEP_INTERVAL_MS)
 * removes the bytes of every entry no row names: a doomed one at once, a write once its writer has
 * stopped renewing it for STORAGE_WRITE_STALE_MS (a live writer renews its entries every quarter
 * of that, until its row commits). Staging (`.resumable/`, S3 parts not yet joined) never has an
 * entry, so the sweep never touches it; a local part of an S3-endpoint upload is named by its part
 * row, which the sweep also counts as a reference.
 */
import type { Db } from '../../db/index.js';
import type { ObjectKey, ObjectStore, PartStore } from './store.js';

export interface PendingOptions {
  readonly staleMs: number;
  /** 0: only the sweep at start. */
  readonly sweepEveryMs: number;
  readonly onSweepError: (err: unknown) => void;
}

export interface LedgeredStore extends ObjectStore {
  /** Removes the bytes of entries no row names (doomed ones, and writes gone stale); returns how many. */
  sweep(): Promise<number>;
}

/** A write stays renewed at most this long after its bytes were written (its row should commit at once). */
const RENEW_AFTER_WRITE_MS = 6 * 60 * 60 * 1000;
const SWEEP_BATCH = 500;

/** Keys $1/$2/$3 (buckets, names, versions) as `k`, and whether a row names `k` (by the objects' unique index). */
const NAMED_KEYS =
  'with k as (select * from unnest($1::text[], $2::text[], $3::text[]) as k(bucket_id, name, version))';
const NAMED = `(exists (select 1 from storage.objects o where o.bucket_id = k.bucket_id and o.name = k.name and o.version = k.version)
   or exists (select 1 from storage.s3_multipart_uploads_parts mp where mp.bucket_id = k.bucket_id and mp.key = k.name and mp.version = k.version))`;

export function ledgeredStore(db: Db, inner: ObjectStore, options: PendingOptions): LedgeredStore {
  /** Entries this process renews, by version, with when each was entered. */
  const renewing = new Map<string, ObjectKey & { since: number }>();

  const enter = async (key: ObjectKey) => {
    await db.query(
      `insert into trellis.storage_pending (bucket_id, name, version, kind) values ($1, $2, $3, 'write')
       on conflict (version, bucket_id, name) do update set kind = 'write', touched_at = now()`,
      [key.bucket, key.name, key.version],
    );
    renewing.set(key.version, { ...key, since: Date.now() });
  };
  /** Wraps a write: the entry first, and on failure the entry goes with the (absent) bytes. */
  const entered = async <T>(key: ObjectKey, write: () => Promise<T>): Promise<T> => {
    await enter(key);
    try {
      return await write();
    } catch (err) {
      // The store left nothing under the key (writes are atomic): the entry can go.
      await forget([key]).catch(() => undefined);
      throw err;
    }
  };
  const forget = async (keys: readonly ObjectKey[]) => {
    if (keys.length === 0) return;
    for (const k of keys) renewing.delete(k.version);
    await db.query(
      `delete from trellis.storage_pending p using unnest($1::text[], $2::text[], $3::text[]) as k(bucket_id, name, version)
        where p.version = k.version and p.bucket_id = k.bucket_id and p.name = k.name`,
      [keys.map((k) => k.bucket), keys.map((k) => k.name), keys.map((k) => k.version)],
    );
  };

  const renew = async () => {
    const now = Date.now();
    for (const [version, k] of renewing) if (now - k.since > RENEW_AFTER_WRITE_MS) renewing.delete(version);
    if (renewing.size === 0) return;
    const keys = [...renewing.values()];
    // A move or copy enters its target after its row changed (in a transaction still open then):
    // an entry its committed row names is settled here.
    await db.query(
      `${NAMED_KEYS} delete from trellis.storage_pending p using k
        where p.kind = 'write' and p.version = k.version and p.bucket_id = k.bucket_id and p.name = k.name and ${NAMED}`,
      [keys.map((k) => k.bucket), keys.map((k) => k.name), keys.map((k) => k.version)],
    );
    const { rows } = await db.query<{ version: string }>(
      `update trellis.storage_pending set touched_at = now() where kind = 'write' and version = any($1::text[]) returning version`,
      [keys.map((k) => k.version)],
    );
    // Settled (the row committed) or removed: no longer renewed.
    const live = new Set(rows.map((r) => r.version));
    for (const k of keys) if (!live.has(k.version)) renewing.delete(k.version);
  };

  const sweepBatch = async (): Promise<{ seen: number; removed: number }> =>
    db.transaction(async (tx) => {
      const { rows } = await tx.query<{ bucket_id: string; name: string; version: string }>(
        `select bucket_id, name, version from trellis.storage_pending
          where kind = 'doomed' or touched_at < now() - make_interval(secs => $1::float8 / 1000)
          order by touched_at limit ${SWEEP_BATCH} for update skip locked`,
        [options.staleMs],
      );
      if (rows.length === 0) return { seen: 0, removed: 0 };
      const versions = rows.map((r) => r.version);
      const named = await tx.query<{ bucket_id: string; name: string; version: string }>(
        `${NAMED_KEYS} select k.bucket_id, k.name, k.version from k where ${NAMED}`,
        [rows.map((r) => r.bucket_id), rows.map((r) => r.name), versions],
      );
      const referenced = new Set(named.rows.map((r) => `${r.bucket_id}\u0000${r.name}\u0000${r.version}`));
      const orphans = rows
        .filter((r) => !referenced.has(`${r.bucket_id}\u0000${r.name}\u0000${r.version}`))
        .map((r) => ({ bucket: r.bucket_id, name: r.name, version: r.version }));
      // The bytes first: an entry removed with its bytes still there would be an orphan for good.
      await inner.remove(orphans);
      await inner.removeStaged?.(orphans);
      await tx.query(
        `delete from trellis.storage_pending p using unnest($1::text[], $2::text[], $3::text[]) as k(bucket_id, name, version)
          where p.version = k.version and p.bucket_id = k.bucket_id and p.name = k.name`,
        [rows.map((r) => r.bucket_id), rows.map((r) => r.name), versions],
      );
      return { seen: rows.length, removed: orphans.length };
    });

  const sweep = async () => {
    let removed = 0;
    for (;;) {
      const batch = await sweepBatch();
      removed += batch.removed;
      if (batch.seen < SWEEP_BATCH) return removed;
    }
  };

  const renewTimer = setInterval(
    () => void renew().catch(options.onSweepError),
    Math.max(250, Math.floor(options.staleMs / 4)),
  ).unref();
  const sweepTimer =
    options.sweepEveryMs > 0
      ? setInterval(() => void sweep().catch(options.onSweepError), options.sweepEveryMs).unref()
      : undefined;

  const parts: PartStore | undefined = inner.parts && {
    begin: (key, contentType) => inner.parts!.begin(key, contentType),
    // Parts of the store's own multipart write are invisible until joined: no entry.
    writePart: (key, handle, partNumber, body, opts) => inner.parts!.writePart(key, handle, partNumber, body, opts),
    complete: (key, handle, list) => entered(key, () => inner.parts!.complete(key, handle, list)),
    abort: (key, handle) => inner.parts!.abort(key, handle),
  };

  /**
   * A write whose entry is made while the body streams: the store awaits it before the bytes
   * become visible (WriteOptions.before), so a small upload pays no extra round trip.
   */
  const enteredWhile = async <T>(key: ObjectKey, write: (entry: Promise<void>) => Promise<T>): Promise<T> => {
    const entry = enter(key);
    entry.catch(() => undefined); // awaited by the store, and below
    try {
      return await write(entry);
    } catch (err) {
      await entry.catch(() => undefined);
      await forget([key]).catch(() => undefined);
      throw err;
    }
  };

  return {
    write: (key, body, opts) => enteredWhile(key, (entry) => inner.write(key, body, { ...opts, before: entry })),
    adopt: (key, file, opts) => enteredWhile(key, (entry) => inner.adopt(key, file, { ...opts, before: entry })),
    copy: (from, to) => entered(to, () => inner.copy(from, to)),
    read: (key, range) => inner.read(key, range),
    async remove(keys) {
      await inner.remove(keys);
      await forget(keys);
    },
    locate: (key) => inner.locate(key),
    list: (bucket) => inner.list(bucket),
    sweep,
    async close() {
      clearInterval(renewTimer);
      clearInterval(sweepTimer);
      await inner.close();
    },
    ...(parts && { parts }),
  };
}
