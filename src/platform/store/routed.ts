/**
 * A store per bucket: an ObjectStore that hands each key to the store its bucket names in
 * trellis.bucket_stores (migration 0181), `default` for a bucket without a row. The name is read
 * from the database and kept for ROUTE_TTL_MS, so a `trellis storage move` in another process is
 * followed within that time (the move waits that long, and for the writes begun before, before it
 * removes the old bytes). While a bucket is being moved, a read the new store cannot answer is
 * answered by the one it is moving from.
 */
import type { Readable } from 'node:stream';
import { DEFAULT_STORE } from '../../config/toml.js';
import type { Db } from '../../db/index.js';
import { MissingObject, type ObjectKey, type ObjectStore, type PartStore } from './store.js';

/** How long a bucket's store name is kept before it is read again. */
export const ROUTE_TTL_MS = 2000;
/** The store of a bucket without a row: STORAGE_BACKEND's. */
export const DEFAULT_STORE_NAME = DEFAULT_STORE;

export interface RoutedStore extends ObjectStore {
  /** The stores by name, to act on one directly (verify, move). */
  readonly stores: ReadonlyMap<string, ObjectStore>;
}

interface Route {
  readonly store: ObjectStore;
  readonly previous: ObjectStore | undefined;
  readonly until: number;
}

export function routedStore(db: Db, stores: ReadonlyMap<string, ObjectStore>): RoutedStore {
  const routes = new Map<string, Route>();
  const storeNamed = (name: string, bucket: string): ObjectStore => {
    const store = stores.get(name);
    // A name in the database that config.toml no longer defines: refused, never guessed.
    if (!store)
      throw new Error(`bucket "${bucket}" keeps its bytes in store "${name}", which config.toml does not define`);
    return store;
  };
  const routeOf = async (bucket: string): Promise<Route> => {
    const known = routes.get(bucket);
    if (known && known.until > Date.now()) return known;
    const row = (
      await db.query<{ store: string; previous: string | null }>(
        'select store, previous from trellis.bucket_stores where bucket_id = $1',
        [bucket],
      )
    ).rows[0];
    const route: Route = {
      store: storeNamed(row?.store ?? DEFAULT_STORE_NAME, bucket),
      previous: row?.previous ? stores.get(row.previous) : undefined,
      until: Date.now() + ROUTE_TTL_MS,
    };
    if (routes.size > 10_000) routes.clear();
    routes.set(bucket, route);
    return route;
  };
  const storeOf = async (bucket: string) => (await routeOf(bucket)).store;
  /**
   * Keys grouped by their bucket's store, and the store it is moving from: bytes removed while
   * a bucket moves may still be in the old store, or only there.
   */
  const byStore = async (keys: readonly ObjectKey[]) => {
    const groups = new Map<ObjectStore, ObjectKey[]>();
    for (const key of keys) {
      const route = await routeOf(key.bucket);
      for (const store of route.previous ? [route.store, route.previous] : [route.store])
        groups.set(store, [...(groups.get(store) ?? []), key]);
    }
    return groups;
  };
  /** `fn` on the bucket's store; while the bucket moves, on the one it moves from when the key is not there yet. */
  const withFallback = async <T>(key: ObjectKey, fn: (store: ObjectStore) => Promise<T>): Promise<T> => {
    const route = await routeOf(key.bucket);
    try {
      return await fn(route.store);
    } catch (err) {
      if (!(err instanceof MissingObject) || !route.previous) throw err;
      return fn(route.previous);
    }
  };

  const parts: PartStore = {
    async begin(key, contentType) {
      const store = await storeOf(key.bucket);
      return store.parts ? store.parts.begin(key, contentType) : undefined;
    },
    async writePart(key, handle, partNumber, body, options) {
      return partsOf(await storeOf(key.bucket)).writePart(key, handle, partNumber, body, options);
    },
    async complete(key, handle, list) {
      await partsOf(await storeOf(key.bucket)).complete(key, handle, list);
    },
    async abort(key, handle) {
      await partsOf(await storeOf(key.bucket)).abort(key, handle);
    },
  };

  return {
    stores,
    write: async (key, body, options) => (await storeOf(key.bucket)).write(key, body, options),
    adopt: async (key, file, options) => (await storeOf(key.bucket)).adopt(key, file, options),
    read: (key, range) => withFallback(key, (store) => store.read(key, range)),
    async copy(from, to) {
      const [source, target] = [await storeOf(from.bucket), await storeOf(to.bucket)];
      if (source === target) {
        await withFallback(from, (store) =>
          store === target ? store.copy(from, to) : crossCopy(store, from, target, to),
        );
        return;
      }
      await withFallback(from, (store) => crossCopy(store, from, target, to));
    },
    async remove(keys) {
      for (const [store, group] of await byStore(keys)) await store.remove(group);
    },
    async removeStaged(keys) {
      for (const [store, group] of await byStore(keys)) await store.removeStaged?.(group);
    },
    locate() {
      throw new Error("locate a key in its bucket's own store (RoutedStore.stores)");
    },
    async *list(bucket) {
      yield* (await storeOf(bucket)).list(bucket);
    },
    async close() {
      await Promise.all([...stores.values()].map((s) => s.close()));
    },
    parts,
  };
}

function partsOf(store: ObjectStore): PartStore {
  // An upload begun on a store with parts whose bucket has since moved to one without: refused.
  if (!store.parts) throw new Error('the bucket moved to a store without multipart writes during the upload');
  return store.parts;
}

/** A copy between two stores: the bytes streamed from one into the other. */
export async function crossCopy(
  from: ObjectStore,
  fromKey: ObjectKey,
  to: ObjectStore,
  toKey: ObjectKey,
): Promise<void> {
  const body: Readable = await from.read(fromKey);
  await to.write(toKey, body, { maxBytes: Number.MAX_SAFE_INTEGER, contentType: 'application/octet-stream' });
}
