/**
 * Objects in any S3-compatible service, all in one bucket under `<bucket>/<name>/<version>`
 * (`<bucket>/~long/<sha256 of name>/<version>` when that would pass S3's 1024-byte key limit or
 * the name has dot segments).
 * S3 makes an object visible only when its upload completes, so writes are atomic; a failed
 * multipart upload is aborted, leaving no parts behind.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { pipeline, type Readable } from 'node:stream';
import type { Config } from '../../config.js';
import { createS3Client } from '../s3-client.js';
import { countingHasher } from './hash.js';
import { MissingObject, type ObjectKey, type ObjectStore } from './store.js';

export function createS3Store(settings: Config['storage']['s3']): ObjectStore {
  const client = createS3Client(settings, 30_000);
  const Bucket = settings.bucket ?? '';
  const keyOf = (key: ObjectKey) => {
    const readable = `${key.bucket}/${key.name}/${key.version}`;
    // S3 keys are at most 1024 bytes, as object names are: a long name is stored under its hash.
    // So is a name with `.`/`..`/empty segments (the API refuses them; some S3-compatible servers
    // and proxies would resolve them as paths). No readable key can equal a hashed one: the random
    // version would have to match too.
    const plain = key.name.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
    if (plain && Buffer.byteLength(readable) <= 1024) return readable;
    return `${key.bucket}/~long/${crypto.createHash('sha256').update(key.name).digest('hex')}/${key.version}`;
  };

  const store: ObjectStore = {
    async write(key, body, { maxBytes, contentType, before }) {
      // S3 shows a small object as soon as it arrives: nothing is sent before `before` settles.
      await before;
      const hasher = countingHasher(maxBytes);
      // pipeline, not pipe: a body that errors or ends early destroys the hasher, which aborts the upload.
      pipeline(body, hasher, () => undefined);
      // 5 MiB parts, at most 2 in flight: memory per upload is bounded whatever the size.
      const upload = new Upload({
        client,
        params: { Bucket, Key: keyOf(key), Body: hasher, ContentType: contentType },
        queueSize: 2,
        partSize: 5 * 1024 * 1024,
        leavePartsOnError: false,
      });
      try {
        await upload.done();
      } catch (err) {
        // An error from our own stream (the size bound) is the one to report.
        throw hasher.errored ?? err;
      }
      return hasher.result();
    },
    async adopt(key, file, options) {
      return store.write(key, fs.createReadStream(file), options);
    },
    async read(key, range) {
      try {
        const out = await client.send(
          new GetObjectCommand({
            Bucket,
            Key: keyOf(key),
            ...(range && { Range: `bytes=${range.start}-${range.end}` }),
          }),
        );
        return out.Body as Readable;
      } catch (err) {
        if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey') throw new MissingObject();
        throw err;
      }
    },
    async copy(from, to) {
      const source = `${Bucket}/${keyOf(from)}`.split('/').map(encodeURIComponent).join('/');
      await client.send(new CopyObjectCommand({ Bucket, Key: keyOf(to), CopySource: source }));
    },
    async remove(keys) {
      for (let i = 0; i < keys.length; i += 1000) {
        const Objects = keys.slice(i, i + 1000).map((k) => ({ Key: keyOf(k) }));
        if (Objects.length > 0)
          await client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects, Quiet: true } }));
      }
    },
    locate: keyOf,
    async *list(bucket) {
      let ContinuationToken: string | undefined;
      do {
        const out = await client.send(new ListObjectsV2Command({ Bucket, Prefix: `${bucket}/`, ContinuationToken }));
        for (const o of out.Contents ?? []) if (o.Key) yield { locator: o.Key, size: o.Size ?? 0 };
        ContinuationToken = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (ContinuationToken);
    },
    close: async () => client.destroy(),
    location: `s3://${settings.endpoint ? new URL(settings.endpoint).host : 'aws'}/${Bucket}`,
    // The S3 endpoint's multipart uploads map onto the bucket's own: parts go straight to S3.
    parts: {
      async begin(key, contentType) {
        const out = await client.send(
          new CreateMultipartUploadCommand({ Bucket, Key: keyOf(key), ContentType: contentType }),
        );
        if (!out.UploadId) throw new Error('the S3 server gave no UploadId');
        return out.UploadId;
      },
      async writePart(key, handle, partNumber, body, { length, maxBytes }) {
        const hasher = countingHasher(Math.min(maxBytes, length));
        pipeline(body, hasher, () => undefined);
        try {
          const out = await client.send(
            new UploadPartCommand({
              Bucket,
              Key: keyOf(key),
              UploadId: handle,
              PartNumber: partNumber,
              Body: hasher,
              ContentLength: length,
            }),
          );
          const result = hasher.result();
          if (result.size !== length) throw new Error('the part ended before its declared length');
          return { ...result, etag: out.ETag ?? `"${result.md5}"` };
        } catch (err) {
          throw hasher.errored ?? err;
        }
      },
      async complete(key, handle, parts) {
        await client.send(
          new CompleteMultipartUploadCommand({
            Bucket,
            Key: keyOf(key),
            UploadId: handle,
            MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
          }),
        );
      },
      async abort(key, handle) {
        await client.send(new AbortMultipartUploadCommand({ Bucket, Key: keyOf(key), UploadId: handle }));
      },
    },
  };
  return store;
}
