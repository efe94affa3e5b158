/**
 * `trellis storage move <bucket> --to <store>`: a bucket's bytes from one store to another, while
 * the server keeps serving it.
 *
 * 1. Copy: every object's bytes are streamed into the new store under the same key, then read back
 *    and checked (size and SHA-256 against the source's). One already there (an earlier, cut run)
 *    is checked the same way and kept when equal.
 * 2. Switch: trellis.bucket_stores names the new store, and the old one as `previous`; servers
 *    follow within ROUTE_TTL_MS, and until the move ends they read from `previous` what the new
 *    store does not have yet, and remove from both.
 * 3. Catch up: once every write begun before the servers followed has ended (its entry in
 *    trellis.storage_pending is gone), the objects written to the old store meanwhile are copied.
 * 4. Remove the old bytes, then clear `previous`.
 *
 * The state is in the table, so running the command again after an interruption goes on: before
 * the switch it copies what is left (checking what is there), after it, it goes on from step 3.
 */
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import type { Db } from '../db/index.js';
import { DEFAULT_STORE_NAME, ROUTE_TTL_MS, type ObjectKey, type ObjectStore } from '../platform/store/index.js';
import { sha256Meter } from '../platform/sha256-meter.js';

export interface MoveEvents {
  /** Called once the total is known: objects and bytes to go through. */
  start(phase: 'copy' | 'catch-up', objects: number, bytes: number): void;
  /** One object done (copied, or found there already and checked). */
  object(bytes: number, copied: boolean): void;
  note(message: string): void;
}

export interface MoveResult {
  readonly from: string;
  readonly to: string;
  readonly copied: number;
  readonly alreadyThere: number;
  readonly removed: number;
}

interface Row {
  readonly name: string;
  readonly version: string;
  readonly size: number;
}

export class MoveRefused extends Error {}

const PAGE = 2000;

export async function moveBucket(
  db: Db,
  stores: ReadonlyMap<string, ObjectStore>,
  bucket: string,
  to: string,
  events: MoveEvents,
  options: { stopAfter?: number } = {},
): Promise<MoveResult> {
  if ((await db.query('select 1 from storage.buckets where id = $1', [bucket])).rowCount === 0)
    throw new MoveRefused(`no bucket "${bucket.slice(0, 64)}"`);
  const target = stores.get(to);
  if (!target) throw new MoveRefused(`no store "${to.slice(0, 64)}" (config.toml's [storage.stores.*], or default)`);
  const state = (
    await db.query<{ store: string; previous: string | null }>(
      'select store, previous from trellis.bucket_stores where bucket_id = $1',
      [bucket],
    )
  ).rows[0];
  const current = state?.store ?? DEFAULT_STORE_NAME;
  const switched = current === to && typeof state?.previous === 'string';
  if (current === to && !switched) throw new MoveRefused(`bucket "${bucket}" is in store "${to}" already`);
  if (!switched && typeof state?.previous === 'string')
    throw new MoveRefused(
      `bucket "${bucket}" is being moved from "${state.previous}" to "${current}": finish that first (\`trellis storage move ${bucket} --to ${current}\`)`,
    );
  const fromName = switched ? (state.previous as string) : current;
  const source = stores.get(fromName);
  if (!source) throw new MoveRefused(`bucket "${bucket}" is in store "${fromName}", which config.toml does not define`);
  // Copying onto the same bytes and then removing "the old ones" would remove the only copy.
  if (source.location !== undefined && source.location === target.location)
    throw new MoveRefused(`stores "${fromName}" and "${to}" are the same place (${target.location}): nothing to move`);

  const tally = { copied: 0, alreadyThere: 0 };
  /** Keys this run copied: any whose row went meanwhile is removed from the new store at the end. */
  const written: ObjectKey[] = [];
  const copyAll = async (phase: 'copy' | 'catch-up', rows: Row[]) => {
    const present = new Map<string, number>();
    for await (const entry of target.list(bucket)) present.set(entry.locator, entry.size);
    const todo = phase === 'copy' ? rows : rows.filter((r) => !present.has(target.locate(keyOf(bucket, r))));
    events.start(
      phase,
      todo.length,
      todo.reduce((n, r) => n + r.size, 0),
    );
    for (const row of todo) {
      if (options.stopAfter !== undefined && tally.copied + tally.alreadyThere >= options.stopAfter)
        throw new MoveRefused(`stopped after ${options.stopAfter} objects (TRELLIS_TEST_STORAGE_MOVE_STOP_AFTER)`);
      const key = keyOf(bucket, row);
      const copied = await copyChecked(source, target, key, present.get(target.locate(key)));
      if (copied === undefined) continue; // its row and bytes went meanwhile
      if (copied.copied) written.push(key);
      tally[copied.copied ? 'copied' : 'alreadyThere']++;
      events.object(copied.size, copied.copied);
    }
  };

  if (!switched) {
    await copyAll('copy', await rowsOf(db, bucket));
    // The switch: from here on, servers write to the new store and read the old one as a fallback.
    await db.query(
      `insert into trellis.bucket_stores (bucket_id, store, previous) values ($1, $2, $3)
       on conflict (bucket_id) do update set store = excluded.store, previous = excluded.previous, updated_at = now()`,
      [bucket, to, fromName],
    );
    events.note(`switched bucket ${bucket} to store ${to}`);
  }
  const { switchedAt } = (
    await db.query<{ switchedAt: Date }>(
      'select updated_at as "switchedAt" from trellis.bucket_stores where bucket_id = $1',
      [bucket],
    )
  ).rows[0]!;
  // Servers follow within ROUTE_TTL_MS; a write begun before they did may still be going to the
  // old store: wait for every write entered before then to end.
  const followed = new Date(switchedAt.getTime() + 2 * ROUTE_TTL_MS + 1000);
  // Timed by the database's clock, which stamped the switch.
  const { ms } = (
    await db.query<{ ms: number }>(
      'select greatest(0, extract(epoch from ($1::timestamptz - now())) * 1000)::float8 as ms',
      [followed],
    )
  ).rows[0]!;
  await new Promise((resolve) => setTimeout(resolve, ms));
  for (let waited = 0; ; waited++) {
    const open = await db.query(
      `select 1 from trellis.storage_pending where bucket_id = $1 and kind = 'write' and created_at < $2 limit 1`,
      [bucket, followed],
    );
    if (open.rowCount === 0) break;
    if (waited % 30 === 0) events.note('waiting for uploads begun before the switch to end');
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  await copyAll('catch-up', await rowsOf(db, bucket));

  // The old bytes: every row's, and those of rows deleted while the move ran (doomed, or copied here).
  const rows = await rowsOf(db, bucket);
  const old = rows.map((r) => keyOf(bucket, r));
  await source.remove(old);
  const live = new Set(rows.map((r) => r.version));
  const gone = written.filter((k) => !live.has(k.version));
  await target.remove(gone);
  await source.remove(gone);
  await db.query('update trellis.bucket_stores set previous = null, updated_at = now() where bucket_id = $1', [bucket]);
  // The default store needs no row: a bucket without one is there.
  if (to === DEFAULT_STORE_NAME) await db.query('delete from trellis.bucket_stores where bucket_id = $1', [bucket]);
  let left = 0;
  for await (const _entry of source.list(bucket)) left++;
  if (left > 0)
    events.note(
      `${left} stored files of bucket ${bucket} are left in store ${fromName}: no row names them (see \`trellis storage verify\`)`,
    );
  return { from: fromName, to, ...tally, removed: old.length };
}

const keyOf = (bucket: string, row: Row): ObjectKey => ({ bucket, name: row.name, version: row.version });

async function rowsOf(db: Db, bucket: string): Promise<Row[]> {
  const rows: Row[] = [];
  let after = '';
  for (;;) {
    const page = await db.query<{ name: string; version: string; size: string | null }>(
      `select name, version, metadata->>'size' as size from storage.objects
        where bucket_id = $1 and version is not null and name collate "C" > $2
        order by name collate "C" limit ${PAGE}`,
      [bucket, after],
    );
    for (const r of page.rows)
      rows.push({ name: r.name, version: r.version, size: r.size && /^\d+$/.test(r.size) ? Number(r.size) : 0 });
    if (page.rows.length < PAGE) return rows;
    after = page.rows[page.rows.length - 1]!.name;
  }
}

/** Size and SHA-256 of a stored object, or undefined when the store does not have it. */
async function digestOf(store: ObjectStore, key: ObjectKey): Promise<{ size: number; sha256: string } | undefined> {
  let body;
  try {
    body = await store.read(key);
  } catch (err) {
    if ((err as Error).name === 'MissingObject') return undefined;
    throw err;
  }
  const meter = sha256Meter();
  await pipeline(body, meter, new Writable({ write: (_chunk, _enc, done) => done() }));
  return meter.result();
}

/**
 * Makes the target hold the source's bytes of `key`, checked: what is there already (size known
 * from the listing) is kept when its digest matches. Undefined: the source has no such bytes (the
 * object was deleted while the move ran).
 */
async function copyChecked(
  source: ObjectStore,
  target: ObjectStore,
  key: ObjectKey,
  presentSize: number | undefined,
): Promise<{ size: number; copied: boolean } | undefined> {
  let wanted: { size: number; sha256: string } | undefined;
  if (presentSize !== undefined) {
    wanted = await digestOf(source, key);
    if (!wanted) return undefined;
    if (presentSize === wanted.size && (await digestOf(target, key))?.sha256 === wanted.sha256)
      return { size: wanted.size, copied: false };
  }
  let body;
  try {
    body = await source.read(key);
  } catch (err) {
    if ((err as Error).name === 'MissingObject') return undefined;
    throw err;
  }
  // Hashed on the way: the source is read once more only when a copy was there already.
  const meter = sha256Meter();
  const piped = pipeline(body, meter);
  piped.catch(() => undefined); // awaited below, after the write that consumes it
  await target.write(key, meter, { maxBytes: Number.MAX_SAFE_INTEGER, contentType: 'application/octet-stream' });
  await piped;
  wanted = meter.result();
  const copy = await digestOf(target, key);
  if (copy?.size !== wanted.size || copy.sha256 !== wanted.sha256)
    throw new Error(`the copy of ${key.name} in the new store does not match (size or SHA-256): the move stops`);
  return { size: wanted.size, copied: true };
}
