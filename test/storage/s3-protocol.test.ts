/**
 * /storage/v1/s3 through @aws-sdk/client-s3 (path style) against a running Trellis: access keys
 * made by `trellis storage keys create`, Supabase's session mode (anon key + the user's JWT, RLS
 * decides), every operation the endpoint serves, and refusals answered as S3 error XML.
 */
import crypto from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import { Readable } from 'node:stream';
import path from 'node:path';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { localBackend, type StorageBackend } from '../helpers/storage.js';
import { startStorageWorld, type StorageWorld } from '../e2e/storage/suite.js';

const JWT_SECRET = 'test-secret-with-at-least-32-characters!';

let backend: StorageBackend;
let w: StorageWorld;
let keyId: string;
let keySecret: string;
let admin: S3Client;
let aliceToken: string;

function s3(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): S3Client {
  return new S3Client({
    endpoint: `${w.server.url}/storage/v1/s3`,
    region: 'local',
    forcePathStyle: true,
    credentials,
  });
}

function keys(...args: string[]) {
  return runCli(['storage', 'keys', ...args, '--dir', w.server.dir], {
    DATABASE_URL: w.server.databaseUrl,
    JWT_SECRET,
  });
}

async function refusal(work: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await work;
  } catch (err) {
    if (err instanceof S3ServiceException) return { name: err.name, status: err.$metadata.httpStatusCode };
    throw err;
  }
  throw new Error('the request was not refused');
}

/** Node's SHA-256 in the shape the SigV4 signer wants (HMAC when given a secret). */
class Sha256 {
  private readonly hash: crypto.Hash | crypto.Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? crypto.createHash('sha256') : crypto.createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView) {
    this.hash.update(bytes(data));
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}

function bytes(data: string | ArrayBuffer | ArrayBufferView): string | Buffer {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** A presigned GET URL as the AWS presigner makes it (UNSIGNED-PAYLOAD, host the one signed header). */
async function presignedGet(key: string, expiresIn: number, signingDate = new Date()): Promise<string> {
  const u = new URL(w.server.url);
  const signer = new SignatureV4({
    credentials: { accessKeyId: keyId, secretAccessKey: keySecret },
    region: 'local',
    service: 's3',
    sha256: Sha256,
    uriEscapePath: false,
  });
  const path = `/storage/v1/s3/${key.split('/').map(encodeURIComponent).join('/')}`;
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol: 'http:',
      hostname: u.hostname,
      port: Number(u.port),
      path,
      query: {},
      headers: { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    },
    { expiresIn, signingDate, unsignableHeaders: new Set(['x-amz-content-sha256']) },
  );
  const query = new URLSearchParams(signed.query as Record<string, string>).toString();
  return `${w.server.url}${path}?${query}`;
}

/** A raw request, bytes as written. */
function raw(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer | string,
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const u = new URL(w.server.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  backend = await localBackend();
  w = await startStorageWorld(backend);
  const made = await keys('create', '--description', 'test key', '-o', 'json');
  expect(made.code, made.stderr).toBe(0);
  const parsed = JSON.parse(made.stdout) as { access_key_id: string; secret_access_key: string };
  keyId = parsed.access_key_id;
  keySecret = parsed.secret_access_key;
  admin = s3({ accessKeyId: keyId, secretAccessKey: keySecret });
  aliceToken = (await w.alice.auth.getSession()).data.session?.access_token as string;
}, 60_000);

afterAll(async () => {
  admin?.destroy();
  await w?.server.stop();
  await backend?.stop();
});

describe('access keys', () => {
  test('the secret is kept sealed, never in plain text, and list shows the key without it', async () => {
    const row = await w.server.sql.query('select sealed_secret from storage.s3_access_keys where id = $1', [keyId]);
    expect(row.rows[0].sealed_secret).not.toContain(keySecret);
    const listed = await keys('list', '-o', 'json');
    expect(listed.code).toBe(0);
    expect(listed.stdout).not.toContain(keySecret);
    expect(JSON.parse(listed.stdout)).toMatchObject([{ id: keyId, description: 'test key', revoked_at: null }]);
  });

  test('a revoked key is refused with InvalidAccessKeyId; an unknown one too', async () => {
    const made = JSON.parse((await keys('create', '-o', 'json')).stdout) as {
      access_key_id: string;
      secret_access_key: string;
    };
    const client = s3({ accessKeyId: made.access_key_id, secretAccessKey: made.secret_access_key });
    expect((await client.send(new ListBucketsCommand({}))).Buckets?.length).toBeGreaterThan(0);
    const revoked = await keys('revoke', made.access_key_id);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(await refusal(client.send(new ListBucketsCommand({})))).toEqual({ name: 'InvalidAccessKeyId', status: 403 });
    expect((await keys('revoke', made.access_key_id)).code).not.toBe(0);
    const unknown = s3({ accessKeyId: 'f'.repeat(32), secretAccessKey: 'x'.repeat(64) });
    expect(await refusal(unknown.send(new ListBucketsCommand({})))).toEqual({
      name: 'InvalidAccessKeyId',
      status: 403,
    });
    client.destroy();
    unknown.destroy();
  });

  test('a wrong secret is SignatureDoesNotMatch, as S3 error XML', async () => {
    const forged = s3({ accessKeyId: keyId, secretAccessKey: 'f'.repeat(64) });
    expect(await refusal(forged.send(new ListBucketsCommand({})))).toEqual({
      name: 'SignatureDoesNotMatch',
      status: 403,
    });
    forged.destroy();
    const answer = await raw('GET', '/storage/v1/s3/', {
      authorization: `AWS4-HMAC-SHA256 Credential=${keyId}/20240101/local/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
      'x-amz-date': new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, ''),
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
    });
    // The credential's date is not the request's: malformed before any secret is looked at.
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('<Code>AuthorizationHeaderMalformed</Code>');
    const unsigned = await raw('GET', '/storage/v1/s3/');
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers['content-type']).toContain('application/xml');
    expect(unsigned.body).toMatch(/<Error><Code>AccessDenied<\/Code><Message>[^<]+<\/Message>/);
  });
});

describe('objects with an access key (the service role)', () => {
  test('buckets: create, head, list, delete', async () => {
    await admin.send(new CreateBucketCommand({ Bucket: 's3-made' }));
    await admin.send(new HeadBucketCommand({ Bucket: 's3-made' }));
    const listed = await admin.send(new ListBucketsCommand({}));
    expect(listed.Buckets?.map((b) => b.Name)).toEqual(expect.arrayContaining(['avatars', 'documents', 's3-made']));
    expect(await refusal(admin.send(new CreateBucketCommand({ Bucket: 's3-made' })))).toMatchObject({ status: 409 });
    await admin.send(new DeleteBucketCommand({ Bucket: 's3-made' }));
    expect(await refusal(admin.send(new HeadBucketCommand({ Bucket: 's3-made' })))).toEqual({
      name: 'NotFound',
      status: 404,
    });
    expect(await refusal(admin.send(new ListObjectsV2Command({ Bucket: 'no-such' })))).toEqual({
      name: 'NoSuchBucket',
      status: 404,
    });
  });

  test('put, get (whole and a range), head, copy, delete; the row is in storage.objects', async () => {
    const body = Buffer.from('hello from the S3 protocol, 0123456789');
    const put = await admin.send(
      new PutObjectCommand({
        Bucket: 'documents',
        Key: 'shared/hello.txt',
        Body: body,
        ContentType: 'text/plain',
        Metadata: { purpose: 'test' },
      }),
    );
    expect(put.ETag).toBe(`"${crypto.createHash('md5').update(body).digest('hex')}"`);
    const row = await w.server.sql.query(
      "select metadata->>'size' as size, metadata->>'mimetype' as mime from storage.objects where bucket_id = 'documents' and name = 'shared/hello.txt'",
    );
    expect(row.rows[0]).toEqual({ size: String(body.length), mime: 'text/plain' });
    const got = await admin.send(new GetObjectCommand({ Bucket: 'documents', Key: 'shared/hello.txt' }));
    expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(body);
    expect(got.ContentType).toBe('text/plain');
    expect(got.Metadata).toEqual({ purpose: 'test' });
    const part = await admin.send(
      new GetObjectCommand({ Bucket: 'documents', Key: 'shared/hello.txt', Range: 'bytes=6-9' }),
    );
    expect(await part.Body!.transformToString()).toBe('from');
    expect(part.ContentRange).toBe(`bytes 6-9/${body.length}`);
    expect(
      await refusal(
        admin.send(new GetObjectCommand({ Bucket: 'documents', Key: 'shared/hello.txt', Range: 'bytes=999-' })),
      ),
    ).toEqual({ name: 'InvalidRange', status: 416 });
    const head = await admin.send(new HeadObjectCommand({ Bucket: 'documents', Key: 'shared/hello.txt' }));
    expect(head.ContentLength).toBe(body.length);
    expect(head.ETag).toBe(put.ETag);
    // Also through the storage API: one object, whichever door it came in by.
    const viaApi = await w.admin.storage.from('documents').download('shared/hello.txt');
    expect(Buffer.from(await viaApi.data!.arrayBuffer())).toEqual(body);

    const copied = await admin.send(
      new CopyObjectCommand({ Bucket: 'documents', Key: 'shared/copy.txt', CopySource: 'documents/shared/hello.txt' }),
    );
    expect(copied.CopyObjectResult?.ETag).toBe(put.ETag);
    // A copy onto an existing key replaces it, as on S3.
    await admin.send(
      new CopyObjectCommand({ Bucket: 'documents', Key: 'shared/copy.txt', CopySource: 'documents/shared/hello.txt' }),
    );
    const copy = await admin.send(new GetObjectCommand({ Bucket: 'documents', Key: 'shared/copy.txt' }));
    expect(await copy.Body!.transformToString()).toBe(body.toString());

    await admin.send(new DeleteObjectCommand({ Bucket: 'documents', Key: 'shared/copy.txt' }));
    expect(await refusal(admin.send(new GetObjectCommand({ Bucket: 'documents', Key: 'shared/copy.txt' })))).toEqual({
      name: 'NoSuchKey',
      status: 404,
    });
    expect(await refusal(admin.send(new HeadObjectCommand({ Bucket: 'documents', Key: 'shared/copy.txt' })))).toEqual({
      name: 'NotFound',
      status: 404,
    });
    // Deleting what is not there is a success, as on S3.
    await admin.send(new DeleteObjectCommand({ Bucket: 'documents', Key: 'shared/copy.txt' }));
  });

  test('a stream body goes as aws-chunked (the SDK picks the mode) and arrives whole', async () => {
    const seen: string[] = [];
    const client = s3({ accessKeyId: keyId, secretAccessKey: keySecret });
    client.middlewareStack.add(
      (next) => async (args) => {
        const headers = (args as { request: { headers: Record<string, string> } }).request.headers;
        seen.push(headers['x-amz-content-sha256'] ?? '');
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: 'payload-mode' },
    );
    const data = crypto.randomBytes(300 * 1024);
    await client.send(
      new PutObjectCommand({
        Bucket: 'documents',
        Key: 'stream/body.bin',
        Body: Readable.from([data.subarray(0, 1000), data.subarray(1000)]),
        ContentLength: data.length,
      }),
    );
    expect(seen[0]).toMatch(/^STREAMING-/);
    const got = await client.send(new GetObjectCommand({ Bucket: 'documents', Key: 'stream/body.bin' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
    await client.send(new DeleteObjectCommand({ Bucket: 'documents', Key: 'stream/body.bin' }));
    client.destroy();
  });

  test('ListObjectsV2: prefix, delimiter, max-keys and continuation tokens', async () => {
    const names = ['list/a.txt', 'list/b.txt', 'list/sub/c.txt', 'list/sub/d.txt', 'list/z/e.txt', 'list/zz.txt'];
    for (const Key of names) await admin.send(new PutObjectCommand({ Bucket: 'documents', Key, Body: Key }));
    const flat = await admin.send(new ListObjectsV2Command({ Bucket: 'documents', Prefix: 'list/' }));
    expect(flat.Contents?.map((o) => o.Key)).toEqual(names);
    expect(flat.KeyCount).toBe(6);
    expect(flat.Contents?.[0]?.Size).toBe('list/a.txt'.length);
    const folders = await admin.send(
      new ListObjectsV2Command({ Bucket: 'documents', Prefix: 'list/', Delimiter: '/' }),
    );
    expect(folders.Contents?.map((o) => o.Key)).toEqual(['list/a.txt', 'list/b.txt', 'list/zz.txt']);
    expect(folders.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['list/sub/', 'list/z/']);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await admin.send(
        new ListObjectsV2Command({
          Bucket: 'documents',
          Prefix: 'list/',
          Delimiter: '/',
          MaxKeys: 2,
          ContinuationToken: token,
        }),
      );
      pages++;
      seen.push(...(page.Contents ?? []).map((o) => o.Key!), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!));
      token = page.NextContinuationToken;
      expect(page.IsTruncated).toBe(token !== undefined);
    } while (token);
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual(['list/a.txt', 'list/b.txt', 'list/sub/', 'list/z/', 'list/zz.txt']);
    const after = await admin.send(
      new ListObjectsV2Command({ Bucket: 'documents', Prefix: 'list/', StartAfter: 'list/sub/d.txt' }),
    );
    expect(after.Contents?.map((o) => o.Key)).toEqual(['list/z/e.txt', 'list/zz.txt']);
    const gone = await admin.send(
      new DeleteObjectsCommand({ Bucket: 'documents', Delete: { Objects: names.map((Key) => ({ Key })) } }),
    );
    expect(gone.Deleted?.map((d) => d.Key).sort()).toEqual([...names].sort());
    expect((await admin.send(new ListObjectsV2Command({ Bucket: 'documents', Prefix: 'list/' }))).KeyCount).toBe(0);
  });

  test('multipart: two 5 MiB parts and a tail become one object; list parts, list uploads, abort', async () => {
    const part1 = crypto.randomBytes(5 * 1024 * 1024);
    const part2 = crypto.randomBytes(5 * 1024 * 1024);
    const tail = crypto.randomBytes(1000);
    const Key = 'big/multipart.bin';
    await admin.send(new CreateBucketCommand({ Bucket: 'bulk' }));
    const { UploadId } = await admin.send(
      new CreateMultipartUploadCommand({ Bucket: 'bulk', Key, ContentType: 'application/octet-stream' }),
    );
    expect(UploadId).toBeTruthy();
    const etags: string[] = [];
    for (const [i, Body] of [part1, part2, tail].entries()) {
      const sent = await admin.send(new UploadPartCommand({ Bucket: 'bulk', Key, UploadId, PartNumber: i + 1, Body }));
      expect(sent.ETag).toBe(`"${crypto.createHash('md5').update(Body).digest('hex')}"`);
      etags.push(sent.ETag!);
    }
    const parts = await admin.send(new ListPartsCommand({ Bucket: 'bulk', Key, UploadId }));
    expect(parts.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([
      [1, part1.length],
      [2, part2.length],
      [3, tail.length],
    ]);
    const uploads = await admin.send(new ListMultipartUploadsCommand({ Bucket: 'bulk' }));
    expect(uploads.Uploads?.map((u) => u.UploadId)).toContain(UploadId);
    // Out of order: refused, the upload stays.
    expect(
      await refusal(
        admin.send(
          new CompleteMultipartUploadCommand({
            Bucket: 'bulk',
            Key,
            UploadId,
            MultipartUpload: {
              Parts: [
                { PartNumber: 2, ETag: etags[1] },
                { PartNumber: 1, ETag: etags[0] },
              ],
            },
          }),
        ),
      ),
    ).toEqual({ name: 'InvalidPartOrder', status: 400 });
    await admin.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'bulk',
        Key,
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) },
      }),
    );
    const got = await admin.send(new GetObjectCommand({ Bucket: 'bulk', Key }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    const whole = Buffer.concat([part1, part2, tail]);
    expect(bytes.length).toBe(whole.length);
    expect(crypto.createHash('sha256').update(bytes).digest('hex')).toBe(
      crypto.createHash('sha256').update(whole).digest('hex'),
    );
    // The parts are gone from the store and the tables.
    const left = await w.server.sql.query('select count(*)::int as n from storage.s3_multipart_uploads_parts');
    expect(left.rows[0].n).toBe(0);
    const files = await backend.storedKeys(`${w.server.dir}/.trellis`);
    const rows = await w.server.sql.query('select count(*)::int as n from storage.objects');
    expect(files.length).toBe(rows.rows[0].n);

    const second = await admin.send(new CreateMultipartUploadCommand({ Bucket: 'bulk', Key: 'big/aborted.bin' }));
    await admin.send(
      new UploadPartCommand({
        Bucket: 'bulk',
        Key: 'big/aborted.bin',
        UploadId: second.UploadId,
        PartNumber: 1,
        Body: tail,
      }),
    );
    await admin.send(
      new AbortMultipartUploadCommand({ Bucket: 'bulk', Key: 'big/aborted.bin', UploadId: second.UploadId }),
    );
    expect(
      await refusal(
        admin.send(new ListPartsCommand({ Bucket: 'bulk', Key: 'big/aborted.bin', UploadId: second.UploadId })),
      ),
    ).toEqual({ name: 'NoSuchUpload', status: 404 });
    expect((await backend.storedKeys(`${w.server.dir}/.trellis`)).length).toBe(rows.rows[0].n);
    await admin.send(new DeleteObjectCommand({ Bucket: 'bulk', Key }));
  }, 60_000);

  test('UploadPartCopy: parts made of ranges of another object', async () => {
    const source = crypto.randomBytes(6 * 1024 * 1024);
    await admin.send(new PutObjectCommand({ Bucket: 'bulk', Key: 'copy/source.bin', Body: source }));
    const Key = 'copy/target.bin';
    const { UploadId } = await admin.send(new CreateMultipartUploadCommand({ Bucket: 'bulk', Key }));
    const split = 5 * 1024 * 1024;
    const ranges = [`bytes=0-${split - 1}`, `bytes=${split}-${source.length - 1}`];
    const etags: string[] = [];
    for (const [i, CopySourceRange] of ranges.entries()) {
      const out = await admin.send(
        new UploadPartCopyCommand({
          Bucket: 'bulk',
          Key,
          UploadId,
          PartNumber: i + 1,
          CopySource: 'bulk/copy/source.bin',
          CopySourceRange,
        }),
      );
      etags.push(out.CopyPartResult!.ETag!);
    }
    expect(
      await refusal(
        admin.send(
          new UploadPartCopyCommand({
            Bucket: 'bulk',
            Key,
            UploadId,
            PartNumber: 3,
            CopySource: 'bulk/copy/source.bin',
            CopySourceRange: 'bytes=5-1',
          }),
        ),
      ),
    ).toEqual({ name: 'InvalidArgument', status: 400 });
    await admin.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'bulk',
        Key,
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) },
      }),
    );
    const got = await admin.send(new GetObjectCommand({ Bucket: 'bulk', Key }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(source)).toBe(true);
    await admin.send(
      new DeleteObjectsCommand({ Bucket: 'bulk', Delete: { Objects: [{ Key }, { Key: 'copy/source.bin' }] } }),
    );
  }, 60_000);

  test('a presigned GET URL opens the object; an expired or altered one is refused', async () => {
    await admin.send(new PutObjectCommand({ Bucket: 'documents', Key: 'signed/file.txt', Body: 'presigned body' }));
    const url = await presignedGet('documents/signed/file.txt', 60);
    const ok = await fetch(url);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('presigned body');
    const altered = await fetch(url.replace('signed/file.txt', 'signed/other.txt'));
    expect(altered.status).toBe(403);
    expect(await altered.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    const old = await presignedGet('documents/signed/file.txt', 1, new Date(Date.now() - 60_000));
    const expired = await fetch(old);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toMatch(/<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/);
  });
});

describe('session mode: the anon key signs, the user JWT decides through RLS', () => {
  test('alice writes and reads her own folder, not bob’s; listing shows only what RLS allows', async () => {
    const alice = s3({ accessKeyId: 'project-ref', secretAccessKey: w.server.anonKey, sessionToken: aliceToken });
    await w.admin.storage.from('documents').upload(`${w.bobId}/secret.txt`, Buffer.from('bob only'), {
      contentType: 'text/plain',
    });
    await alice.send(
      new PutObjectCommand({
        Bucket: 'documents',
        Key: `${w.aliceId}/mine.txt`,
        Body: 'alice',
        ContentType: 'text/plain',
      }),
    );
    const owner = await w.server.sql.query(
      "select owner_id from storage.objects where bucket_id = 'documents' and name = $1",
      [`${w.aliceId}/mine.txt`],
    );
    expect(owner.rows[0].owner_id).toBe(w.aliceId);
    const mine = await alice.send(new GetObjectCommand({ Bucket: 'documents', Key: `${w.aliceId}/mine.txt` }));
    expect(await mine.Body!.transformToString()).toBe('alice');
    expect(
      await refusal(alice.send(new GetObjectCommand({ Bucket: 'documents', Key: `${w.bobId}/secret.txt` }))),
    ).toEqual({ name: 'NoSuchKey', status: 404 });
    expect(
      await refusal(
        alice.send(
          new PutObjectCommand({
            Bucket: 'documents',
            Key: `${w.bobId}/evil.txt`,
            Body: 'x',
            ContentType: 'text/plain',
          }),
        ),
      ),
    ).toEqual({ name: 'AccessDenied', status: 403 });
    const listed = await alice.send(new ListObjectsV2Command({ Bucket: 'documents' }));
    const keysSeen = (listed.Contents ?? []).map((o) => o.Key);
    expect(keysSeen).toContain(`${w.aliceId}/mine.txt`);
    expect(keysSeen.some((k) => k?.startsWith(`${w.bobId}/`))).toBe(false);
    // Bob's object stays whatever alice deletes.
    await alice.send(new DeleteObjectCommand({ Bucket: 'documents', Key: `${w.bobId}/secret.txt` }));
    expect((await w.admin.storage.from('documents').download(`${w.bobId}/secret.txt`)).error).toBeNull();
    alice.destroy();
  });

  test('multipart in session mode: refused where RLS forbids the object, invisible to other users', async () => {
    const alice = s3({ accessKeyId: 'project-ref', secretAccessKey: w.server.anonKey, sessionToken: aliceToken });
    const bobToken = (await w.bob.auth.getSession()).data.session?.access_token as string;
    const bob = s3({ accessKeyId: 'project-ref', secretAccessKey: w.server.anonKey, sessionToken: bobToken });
    expect(
      await refusal(
        alice.send(
          new CreateMultipartUploadCommand({ Bucket: 'documents', Key: `${w.bobId}/x.bin`, ContentType: 'text/plain' }),
        ),
      ),
    ).toEqual({ name: 'AccessDenied', status: 403 });
    const Key = `${w.aliceId}/parts.txt`;
    const { UploadId } = await alice.send(
      new CreateMultipartUploadCommand({ Bucket: 'documents', Key, ContentType: 'text/plain' }),
    );
    const part = await alice.send(
      new UploadPartCommand({ Bucket: 'documents', Key, UploadId, PartNumber: 1, Body: 'one part' }),
    );
    expect(await refusal(bob.send(new ListPartsCommand({ Bucket: 'documents', Key, UploadId })))).toEqual({
      name: 'NoSuchUpload',
      status: 404,
    });
    expect((await bob.send(new ListMultipartUploadsCommand({ Bucket: 'documents' }))).Uploads ?? []).toEqual([]);
    await alice.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'documents',
        Key,
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    const got = await alice.send(new GetObjectCommand({ Bucket: 'documents', Key }));
    expect(await got.Body!.transformToString()).toBe('one part');
    alice.destroy();
    bob.destroy();
  });

  test('an expired session JWT is ExpiredToken', async () => {
    const expired = await new SignJWT({ role: 'authenticated', sub: w.aliceId })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(new TextEncoder().encode(JWT_SECRET));
    const client = s3({ accessKeyId: 'project-ref', secretAccessKey: w.server.anonKey, sessionToken: expired });
    expect(await refusal(client.send(new ListBucketsCommand({})))).toEqual({ name: 'ExpiredToken', status: 400 });
    client.destroy();
  });

  test('a session signed with another secret, or carrying a forged JWT, is refused', async () => {
    const wrongSecret = s3({
      accessKeyId: 'project-ref',
      secretAccessKey: 'not-the-anon-key',
      sessionToken: aliceToken,
    });
    expect(await refusal(wrongSecret.send(new ListBucketsCommand({})))).toEqual({
      name: 'SignatureDoesNotMatch',
      status: 403,
    });
    const [h, p] = aliceToken.split('.');
    const forged = s3({
      accessKeyId: 'project-ref',
      secretAccessKey: w.server.anonKey,
      sessionToken: `${h}.${p}.AAAA`,
    });
    expect(await refusal(forged.send(new ListBucketsCommand({})))).toEqual({ name: 'InvalidToken', status: 400 });
    wrongSecret.destroy();
    forged.destroy();
  });
});

describe('bad input', () => {
  test('NUL and dot-dot keys are refused with a named error; the server stays healthy', async () => {
    for (const Key of ['a/../b.txt', 'a/./b.txt', 'bad\u0000name.txt']) {
      const answer = await refusal(admin.send(new PutObjectCommand({ Bucket: 'documents', Key, Body: 'x' })));
      expect(answer.status, Key).toBe(400);
    }
    expect((await fetch(`${w.server.url}/health`)).status).toBe(200);
  });

  test('huge header values are refused, not served', async () => {
    const answer = await raw('GET', '/storage/v1/s3/', { 'x-amz-meta-big': 'x'.repeat(10_000) });
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('<Code>InvalidRequest</Code><Message>The request headers are too large</Message>');
    // Past Node's own bound the HTTP server refuses before any handler runs.
    expect((await raw('GET', '/storage/v1/s3/', { 'x-amz-meta-big': 'x'.repeat(20_000) })).status).toBe(431);
    const metadata = await refusal(
      admin.send(
        new PutObjectCommand({ Bucket: 'documents', Key: 'meta.txt', Body: 'x', Metadata: { big: 'y'.repeat(3000) } }),
      ),
    );
    expect(metadata).toEqual({ name: 'InvalidArgument', status: 400 });
    expect((await fetch(`${w.server.url}/health`)).status).toBe(200);
  });

  test('a body that does not match its signed SHA-256 is refused and leaves nothing', async () => {
    const before = (await backend.storedKeys(`${w.server.dir}/.trellis`)).length;
    const forgedBody = s3({ accessKeyId: keyId, secretAccessKey: keySecret });
    forgedBody.middlewareStack.add(
      (next) => async (args) => {
        const request = (args as { request: { body: unknown } }).request;
        request.body = Buffer.from('tampered');
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: 'tamper' },
    );
    const answer = await refusal(
      forgedBody.send(new PutObjectCommand({ Bucket: 'documents', Key: 'tamper.txt', Body: 'original' })),
    );
    expect(answer.status).toBe(400);
    expect((await backend.storedKeys(`${w.server.dir}/.trellis`)).length).toBe(before);
    forgedBody.destroy();
  });

  test('malformed XML bodies are MalformedXML', async () => {
    const { UploadId } = await admin.send(new CreateMultipartUploadCommand({ Bucket: 'documents', Key: 'x/y.bin' }));
    const bad = s3({ accessKeyId: keyId, secretAccessKey: keySecret });
    bad.middlewareStack.add(
      (next) => async (args) => {
        const request = (args as { request: { body: unknown; headers: Record<string, string> } }).request;
        request.body = '<not-xml';
        request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
        delete request.headers['content-length'];
        return next(args);
      },
      { step: 'build', priority: 'low', name: 'bad-xml' },
    );
    expect(
      await refusal(
        bad.send(
          new CompleteMultipartUploadCommand({
            Bucket: 'documents',
            Key: 'x/y.bin',
            UploadId,
            MultipartUpload: { Parts: [{ PartNumber: 1, ETag: 'x' }] },
          }),
        ),
      ),
    ).toEqual({ name: 'MalformedXML', status: 400 });
    await admin.send(new AbortMultipartUploadCommand({ Bucket: 'documents', Key: 'x/y.bin', UploadId }));
    bad.destroy();
  });
});

/** Whether a command is on the PATH (and runs). */
function installed(command: string, versionFlag: string): boolean {
  try {
    execFileSync(command, [versionFlag], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

function run(command: string, args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  // A CA bundle meant for HTTPS elsewhere makes rclone's S3 client refuse to start on plain HTTP.
  const { AWS_CA_BUNDLE: _bundle, ...inherited } = process.env;
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { env: { ...inherited, ...env }, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

const hasRclone = installed('rclone', 'version');
const hasAws = installed('aws', '--version');
if (!hasRclone) console.warn('skipping the rclone test: rclone is not installed (Debian: apt-get install rclone)');
if (!hasAws) console.warn('skipping the AWS CLI test: aws is not installed (Debian: apt-get install awscli)');

describe('real S3 tools', () => {
  let folder: string;
  let file: Buffer;
  beforeAll(async () => {
    folder = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-s3-tools-'));
    // 11 MiB: past both tools' multipart thresholds as set below.
    file = crypto.randomBytes(11 * 1024 * 1024);
    await fs.writeFile(path.join(folder, 'file.bin'), file);
    await admin.send(new CreateBucketCommand({ Bucket: 'tools' }));
  });
  afterAll(async () => {
    if (folder) await fs.rm(folder, { recursive: true, force: true });
  });

  test.skipIf(!hasRclone)(
    'rclone copies up (multipart), lists, reads back and deletes',
    async () => {
      const env = {
        RCLONE_CONFIG_T_TYPE: 's3',
        RCLONE_CONFIG_T_PROVIDER: 'Other',
        RCLONE_CONFIG_T_ACCESS_KEY_ID: keyId,
        RCLONE_CONFIG_T_SECRET_ACCESS_KEY: keySecret,
        RCLONE_CONFIG_T_ENDPOINT: `${w.server.url}/storage/v1/s3`,
        RCLONE_CONFIG_T_REGION: 'local',
        RCLONE_CONFIG_T_FORCE_PATH_STYLE: 'true',
        RCLONE_CONFIG: '/dev/null',
      };
      const flags = ['--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M'];
      const up = await run(
        'rclone',
        ['copyto', path.join(folder, 'file.bin'), 't:tools/rclone/file.bin', ...flags],
        env,
      );
      expect(up.code, up.out).toBe(0);
      const listed = await run('rclone', ['lsf', 't:tools/rclone'], env);
      expect(listed.out.trim()).toBe('file.bin');
      const back = path.join(folder, 'rclone-back.bin');
      const down = await run('rclone', ['copyto', 't:tools/rclone/file.bin', back], env);
      expect(down.code, down.out).toBe(0);
      expect((await fs.readFile(back)).equals(file)).toBe(true);
      const checked = await run(
        'rclone',
        ['check', path.join(folder, 'file.bin'), 't:tools/rclone/', '--size-only'],
        env,
      );
      expect(checked.code, checked.out).toBe(0);
      expect((await run('rclone', ['deletefile', 't:tools/rclone/file.bin'], env)).code).toBe(0);
      expect((await run('rclone', ['lsf', 't:tools/rclone'], env)).out.trim()).toBe('');
    },
    120_000,
  );

  test.skipIf(!hasAws)(
    'the AWS CLI copies up (multipart), lists, reads back and removes',
    async () => {
      const env = {
        AWS_ACCESS_KEY_ID: keyId,
        AWS_SECRET_ACCESS_KEY: keySecret,
        AWS_DEFAULT_REGION: 'local',
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      };
      const endpoint = ['--endpoint-url', `${w.server.url}/storage/v1/s3`];
      const up = await run(
        'aws',
        [...endpoint, 's3', 'cp', path.join(folder, 'file.bin'), 's3://tools/aws/file.bin'],
        env,
      );
      expect(up.code, up.out).toBe(0);
      const listed = await run('aws', [...endpoint, 's3', 'ls', 's3://tools/aws/'], env);
      expect(listed.out).toMatch(new RegExp(`${file.length}\\s+file\\.bin`));
      const back = path.join(folder, 'aws-back.bin');
      const down = await run('aws', [...endpoint, 's3', 'cp', 's3://tools/aws/file.bin', back], env);
      expect(down.code, down.out).toBe(0);
      expect((await fs.readFile(back)).equals(file)).toBe(true);
      // Past its 8 MiB threshold the CLI copies within S3 by UploadPartCopy.
      const copied = await run(
        'aws',
        [...endpoint, 's3', 'cp', 's3://tools/aws/file.bin', 's3://tools/aws/copy.bin'],
        env,
      );
      expect(copied.code, copied.out).toBe(0);
      const copyBack = path.join(folder, 'aws-copy.bin');
      expect((await run('aws', [...endpoint, 's3', 'cp', 's3://tools/aws/copy.bin', copyBack], env)).code).toBe(0);
      expect((await fs.readFile(copyBack)).equals(file)).toBe(true);
      expect((await run('aws', [...endpoint, 's3', 'rm', 's3://tools/aws/copy.bin'], env)).code).toBe(0);
      expect((await run('aws', [...endpoint, 's3', 'rm', 's3://tools/aws/file.bin'], env)).code).toBe(0);
      expect((await run('aws', [...endpoint, 's3', 'ls', 's3://tools/aws/'], env)).out.trim()).toBe('');
    },
    120_000,
  );
});
