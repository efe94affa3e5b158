/** Picks the object store the configuration names; the interface and its errors are in store.ts. */
import type { Config } from '../../config.js';
import { createLocalStore } from './local.js';
import type { ObjectStore } from './store.js';
export { createResumableStore, type ResumableStore } from './resumable.js';
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

export async function createObjectStore(config: Config): Promise<ObjectStore> {
  if (config.storage.backend === 's3') {
    // Loaded only when used: the AWS SDK adds about 0.3 s to every start otherwise.
    const { createS3Store } = await import('./s3.js');
    return createS3Store(config.storage.s3);
  }
  return createLocalStore(config.storage.localDir);
}
