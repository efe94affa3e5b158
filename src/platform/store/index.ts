/** Picks the object store the configuration names; the interface and its errors are in store.ts. */
import type { Config, StoreSettings } from '../../config.js';
import { createLocalStore } from './local.js';
import type { ObjectStore } from './store.js';
export { createResumableStore, type ResumableStore } from './resumable.js';
export { crossCopy, DEFAULT_STORE_NAME, ROUTE_TTL_MS, routedStore, type RoutedStore } from './routed.js';
export { ledgeredStore, type LedgeredStore, type PendingOptions } from './pending.js';

export {
  MissingObject,
  TooLarge,
  type ByteRange,
  type ObjectKey,
  type ObjectStore,
  type PartStore,
  type StoredEntry,
  type WriteResult,
} from './store.js';

/** The default store (STORAGE_BACKEND): where a bucket that names no store keeps its bytes. */
export async function createObjectStore(config: Config): Promise<ObjectStore> {
  if (config.storage.backend === 's3') return createStoreOf({ kind: 's3', s3: config.storage.s3 });
  return createLocalStore(config.storage.localDir);
}

/** One store of `config.storage.stores`. */
export async function createStoreOf(settings: StoreSettings): Promise<ObjectStore> {
  if (settings.kind === 's3') {
    // Loaded only when used: the AWS SDK adds about 0.3 s to every start otherwise.
    const { createS3Store } = await import('./s3.js');
    return createS3Store(settings.s3);
  }
  return createLocalStore(settings.dir);
}

/** Every store the configuration names (`default` and config.toml's [storage.stores.*]), by name. */
export async function createObjectStores(config: Config): Promise<Map<string, ObjectStore>> {
  const stores = new Map<string, ObjectStore>();
  try {
    for (const [name, settings] of Object.entries(config.storage.stores))
      stores.set(name, await createStoreOf(settings));
  } catch (err) {
    await Promise.allSettled([...stores.values()].map((s) => s.close()));
    throw err;
  }
  return stores;
}
