/**
 * `--storage-to s3://bucket`: the local objects' bytes copied into the S3 store's layout (so a
 * server with STORAGE_BACKEND=s3 finds them where it looks), each read back and compared by size
 * and SHA-256 before the move goes on.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../config.js';
import { FatalError, errorMessage } from '../errors.js';
import { sha256Meter } from '../platform/sha256-meter.js';
import { createObjectStore, type ObjectKey, type ObjectStore } from '../platform/store/index.js';
import { closeQuietly, connectTo } from './connect.js';
import type { Endpoint, MoveReporter } from './move.js';

export interface StorageCopy {
  readonly objects: number;
  readonly bytes: number;
}

export async function copyObjectsToS3(
  source: Endpoint,
  config: Config,
  bucket: string,
  report: MoveReporter,
): Promise<StorageCopy> {
  const client = await connectTo(source.url, source.label);
  let rows: StoredObject[];
  try {
    rows = (
      await client.query<StoredObject>(
        `select bucket_id as bucket, name, version, coalesce(metadata->>'mimetype', 'application/octet-stream') as "contentType"
           from storage.objects where version is not null order by bucket_id, name`,
      )
    ).rows;
  } finally {
    await closeQuietly(client);
  }
  const local = await createObjectStore({ ...config, storage: { ...config.storage, backend: 'local' } });
  const s3 = await createObjectStore({
    ...config,
    storage: { ...config.storage, backend: 's3', s3: { ...config.storage.s3, bucket } },
  });
  const bar = report.progress(`storage objects to s3://${bucket}`, { unit: 'files', total: rows.length });
  let bytes = 0;
  try {
    for (const key of rows) {
      bytes += await copyOne(local, s3, key);
      bar.tick(1);
    }
  } catch (err) {
    bar.fail(errorMessage(err));
    throw err instanceof FatalError
      ? err
      : new FatalError(`copying storage objects to s3://${bucket} failed: ${errorMessage(err)}`, '--storage-to');
  } finally {
    await local.close();
    await s3.close();
  }
  bar.done(`${bytes.toLocaleString('en-US')} bytes, each read back and checked`);
  return { objects: rows.length, bytes };
}

interface StoredObject extends ObjectKey {
  readonly contentType: string;
}

async function copyOne(local: ObjectStore, s3: ObjectStore, key: StoredObject): Promise<number> {
  const name = `${key.bucket}/${key.name}`;
  const sent = sha256Meter();
  const body = await local.read(key).catch((err: unknown) => {
    throw new FatalError(`the bytes of storage object ${name} are missing from the local store (${errorMessage(err)})`);
  });
  await Promise.all([
    pipeline(body, sent),
    s3.write(key, sent, { maxBytes: Number.MAX_SAFE_INTEGER, contentType: key.contentType }),
  ]);
  const back = sha256Meter();
  await pipeline(await s3.read(key), back, devNull());
  const a = sent.result();
  const b = back.result();
  if (a.size !== b.size || a.sha256 !== b.sha256)
    throw new FatalError(
      `storage object ${name} reads back from S3 as ${b.size} bytes (sha256 ${b.sha256}), not ${a.size} (sha256 ${a.sha256})`,
    );
  return a.size;
}
function devNull(): Writable {
  return new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });
}
