/**
 * Where resumable (TUS) uploads keep their bytes until they complete: a @tus data store beside the
 * object store the configuration names. Local disk: @tus/file-store in `<storage>/.resumable/`,
 * one file of bytes and one `.json` of state per upload. S3: @tus/s3-store, a multipart upload per
 * upload plus a `<id>.info` object of state, at the root of STORAGE_S3_BUCKET (object keys always
 * have a `/`, upload ids never do). State lives there, not in memory, so an upload resumes after
 * a restart. A finished upload is read once into the object store and removed.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { DataStore } from '@tus/utils';
import type { Config } from '../../config.js';

export interface ResumableStore {
  readonly datastore: DataStore;
  /** The staged bytes of an upload (complete once its offset reached its length). */
  read(id: string): Promise<Readable>;
  /** The file that holds an upload's bytes, where they are on the local disk (for ObjectStore.adopt). */
  fileOf(id: string): string | undefined;
  /** Removes an upload's bytes and state; a missing one is ignored. */
  remove(id: string): Promise<void>;
  /** Removes uploads older than the expiry that never completed; returns how many. */
  sweep(): Promise<number>;
  close(): Promise<void>;
}

export interface ResumableOptions {
  readonly expiryMs: number;
  /** How often `sweep` runs on its own (0: never). */
  readonly sweepEveryMs: number;
  readonly onSweepError: (err: unknown) => void;
}

export async function createResumableStore(config: Config, options: ResumableOptions): Promise<ResumableStore> {
  const staged =
    config.storage.backend === 's3' ? await s3DataStore(config, options) : await fileDataStore(config, options);
  const { datastore } = staged;
  const sweep = () => datastore.deleteExpired();
  const timer =
    options.sweepEveryMs > 0
      ? setInterval(() => void sweep().catch(options.onSweepError), options.sweepEveryMs).unref()
      : undefined;
  return {
    datastore,
    read: (id) => staged.read(id),
    fileOf: (id) => staged.fileOf(id),
    remove: (id) => staged.remove(id),
    sweep,
    close: async () => {
      clearInterval(timer);
      staged.close?.();
    },
  };
}

async function fileDataStore(config: Config, options: ResumableOptions) {
  const { FileStore } = await import('@tus/file-store');
  const directory = path.join(config.storage.localDir, '.resumable');
  await fsp.mkdir(directory, { recursive: true });
  const store = new FileStore({ directory, expirationPeriodInMilliseconds: options.expiryMs });
  return {
    datastore: store as DataStore,
    read: async (id: string): Promise<Readable> => store.read(id),
    fileOf: (id: string): string | undefined => path.join(directory, id),
    remove: (id: string) => store.remove(id).catch(unlessMissing),
    close: undefined,
  };
}

async function s3DataStore(config: Config, options: ResumableOptions) {
  // Loaded only when used, as the object store's S3 client is.
  const { S3Store } = await import('@tus/s3-store');
  const { DeleteObjectsCommand } = await import('@aws-sdk/client-s3');
  const { createS3Client } = await import('../s3-client.js');
  const s3 = config.storage.s3;
  const store = new S3Store({
    // 8 MiB parts, at most 2 in flight: memory per upload stays bounded whatever its size.
    partSize: 8 * 1024 * 1024,
    maxConcurrentPartUploads: 2,
    expirationPeriodInMilliseconds: options.expiryMs,
    // Expiry by listing the uploads' state (deleteExpired), not by bucket lifecycle tags, which
    // not every S3-compatible service has.
    useTags: false,
    // No cache of uploads' state in memory: another instance may have written or removed an
    // upload since (storage-api keeps its cache for one request only). Each request reads `.info`.
    cache: {
      get: async () => undefined,
      set: async () => undefined,
      delete: async () => undefined,
      list: async () => [],
    },
    s3ClientConfig: {
      bucket: s3.bucket ?? '',
      region: s3.region,
      ...(s3.endpoint && { endpoint: s3.endpoint }),
      forcePathStyle: s3.forcePathStyle,
      ...(s3.accessKeyId &&
        s3.secretAccessKey && { credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } }),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    },
  });
  const client = createS3Client(config.storage.s3, 30_000);
  return {
    datastore: store as DataStore,
    read: (id: string) => store.read(id),
    fileOf: (): string | undefined => undefined,
    // A completed upload has no multipart upload left to abort, and @tus/s3-store's remove stops
    // there (404) without deleting the object and its `.info`: those go here.
    remove: async (id: string) => {
      await store.remove(id).catch(unlessMissing);
      await client.send(
        new DeleteObjectsCommand({
          Bucket: s3.bucket ?? '',
          Delete: { Objects: [{ Key: id }, { Key: `${id}.info` }], Quiet: true },
        }),
      );
    },
    close: () => client.destroy(),
  };
}

function unlessMissing(err: unknown): void {
  if ((err as { status_code?: number }).status_code !== 404) throw err;
}
