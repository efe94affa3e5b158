/**
 * The S3 protocol endpoint on an S3 object store (s3rver on loopback): PutObject and GetObject go
 * through the store as on the local disk, and multipart uploads use the backing store's own
 * multipart upload (parts straight to it, joined there, S3's "-N" ETag), leaving nothing behind.
 */
import crypto from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createAccessKey } from '../../src/storage/routes.js';
import { s3Backend, type StorageBackend } from '../helpers/storage.js';
import { startStorageWorld, type StorageWorld } from '../e2e/storage/suite.js';

let backend: StorageBackend;
let w: StorageWorld;
let client: S3Client;

beforeAll(async () => {
  backend = await s3Backend();
  w = await startStorageWorld(backend);
  const key = await createAccessKey(w.server.sql, w.server.jwtSecret, 'store test');
  client = new S3Client({
    endpoint: `${w.server.url}/storage/v1/s3`,
    region: 'local',
    forcePathStyle: true,
    credentials: { accessKeyId: key.id, secretAccessKey: key.secret },
  });
  await client.send(new CreateBucketCommand({ Bucket: 'bulk' }));
}, 60_000);

afterAll(async () => {
  client?.destroy();
  await w?.server.stop();
  await backend?.stop();
});

const stored = () => backend.storedKeys(`${w.server.dir}/.trellis`);
const rows = async () =>
  (await w.server.sql.query('select count(*)::int as n from storage.objects')).rows[0].n as number;

test('put and a ranged get go through the S3 store', async () => {
  await client.send(new PutObjectCommand({ Bucket: 'bulk', Key: 'a/b.txt', Body: 'on an S3 store' }));
  const got = await client.send(new GetObjectCommand({ Bucket: 'bulk', Key: 'a/b.txt', Range: 'bytes=3-4' }));
  expect(await got.Body!.transformToString()).toBe('an');
  expect((await stored()).length).toBe(await rows());
});

test("multipart uses the store's own multipart upload: joined there, S3's ETag, nothing left", async () => {
  const parts = [crypto.randomBytes(5 * 1024 * 1024), crypto.randomBytes(5 * 1024 * 1024), crypto.randomBytes(10)];
  const Key = 'big/native.bin';
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'bulk', Key }));
  const handle = await w.server.sql.query('select store_handle from storage.s3_multipart_uploads where id = $1', [
    UploadId,
  ]);
  expect(handle.rows[0].store_handle).toBeTruthy();
  const etags: string[] = [];
  for (const [i, Body] of parts.entries())
    etags.push(
      (await client.send(new UploadPartCommand({ Bucket: 'bulk', Key, UploadId, PartNumber: i + 1, Body }))).ETag!,
    );
  const listed = await client.send(new ListPartsCommand({ Bucket: 'bulk', Key, UploadId }));
  expect(listed.Parts?.map((p) => p.Size)).toEqual(parts.map((p) => p.length));
  const done = await client.send(
    new CompleteMultipartUploadCommand({
      Bucket: 'bulk',
      Key,
      UploadId,
      MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) },
    }),
  );
  const md5s = Buffer.concat(parts.map((p) => crypto.createHash('md5').update(p).digest()));
  expect(done.ETag).toBe(`"${crypto.createHash('md5').update(md5s).digest('hex')}-3"`);
  const got = await client.send(new GetObjectCommand({ Bucket: 'bulk', Key }));
  const bytes = Buffer.from(await got.Body!.transformToByteArray());
  expect(bytes.equals(Buffer.concat(parts))).toBe(true);
  expect((await stored()).length).toBe(await rows());

  const other = await client.send(new CreateMultipartUploadCommand({ Bucket: 'bulk', Key: 'big/aborted.bin' }));
  await client.send(
    new UploadPartCommand({
      Bucket: 'bulk',
      Key: 'big/aborted.bin',
      UploadId: other.UploadId,
      PartNumber: 1,
      Body: 'x',
    }),
  );
  await client.send(
    new AbortMultipartUploadCommand({ Bucket: 'bulk', Key: 'big/aborted.bin', UploadId: other.UploadId }),
  );
  expect((await stored()).length).toBe(await rows());
}, 60_000);
