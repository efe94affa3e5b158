/**
 * Bad input to /storage/v1: each gets storage-api's status and body, leaves no orphan file or row,
 * and the server stays healthy.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { localBackend, s3Backend, type StorageBackend } from '../../helpers/storage.js';
import { expectNoOrphans, startStorageWorld, type StorageWorld } from './suite.js';

describe.each([
  ['the local disk', localBackend],
  ['an S3-protocol server', s3Backend],
])('bad input on %s', (_where, makeBackend) => {
  let backend: StorageBackend;
  let w: StorageWorld;
  let aliceToken: string;

  beforeAll(async () => {
    backend = await makeBackend();
    w = await startStorageWorld(backend, { STORAGE_IMAGE_MAX_INPUT_BYTES: '20000' });
    aliceToken = (await w.alice.auth.getSession()).data.session?.access_token as string;
  });
  afterAll(async () => {
    await w?.server.stop();
    await backend?.stop();
  });

  interface RawAnswer {
    status: number;
    body: Record<string, unknown>;
  }

  /** A request sent byte for byte as written: no client normalises `..` or decodes `%2F` first. */
  function raw(
    method: string,
    rawPath: string,
    options: { headers?: Record<string, string>; body?: Buffer | string } = {},
  ): Promise<RawAnswer> {
    const u = new URL(w.server.url);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: u.hostname,
          port: u.port,
          path: rawPath,
          method,
          headers: { apikey: w.server.anonKey, authorization: `Bearer ${aliceToken}`, ...options.headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
          });
        },
      );
      req.on('error', reject);
      req.end(options.body);
    });
  }

  const upload = (path: string, body: string | Buffer = 'x', headers: Record<string, string> = {}) =>
    raw('POST', `/storage/v1/object/documents/${path}`, {
      body,
      headers: { 'content-type': 'text/plain', ...headers },
    });

  describe('names', () => {
    test.each([
      ['a dot-dot segment', (id: string) => `${id}/../${id}/x.txt`],
      ['an encoded dot-dot', (id: string) => `${id}/%2e%2e/x.txt`],
      ['an encoded slash', (id: string) => `${id}%2F..%2Fx.txt`],
      ['an encoded backslash', (id: string) => `${id}/a%5C..%5Cx.txt`],
      ['an absolute path (empty first segment)', (id: string) => `/etc/${id}/passwd`],
      ['a NUL byte', (id: string) => `${id}/x%00.txt`],
      ['a malformed escape', (id: string) => `${id}/x%zz.txt`],
      ['a name over 1024 bytes', (id: string) => `${id}/${encodeURIComponent('é'.repeat(520))}.txt`],
    ])('%s is an InvalidKey', async (_what, path) => {
      const answer = await upload(path(w.aliceId));
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ statusCode: '400', code: 'InvalidKey', error: 'InvalidKey' });
      expect(String(answer.body.message)).toMatch(/^Invalid key: /);
    });

    test('a name at the 1024-byte limit is accepted', async () => {
      const name = `${w.aliceId}/${'a'.repeat(1024 - w.aliceId.length - 1)}`;
      expect((await upload(name)).status).toBe(200);
      expect(await (await w.alice.storage.from('documents').download(name)).data?.text()).toBe('x');
    });

    test('move and copy check the names in their bodies', async () => {
      const moved = await w.alice.storage.from('documents').move(`${w.aliceId}/a.txt`, `${w.aliceId}/../x.txt`);
      expect(moved.error).toMatchObject({
        status: 400,
        statusCode: '400',
        message: `Invalid key: ${w.aliceId}/../x.txt`,
      });
      const copied = await w.alice.storage.from('documents').copy(`${w.aliceId}/a.txt`, '');
      expect(copied.error).toMatchObject({ status: 400, statusCode: '400' });
    });

    test('a bucket name with a slash or over 100 characters is refused', async () => {
      expect((await w.admin.storage.createBucket('a/b')).error).toMatchObject({
        status: 400,
        statusCode: '400',
        message: 'Bucket name invalid',
      });
      expect((await w.admin.storage.createBucket('b'.repeat(101))).error).toMatchObject({
        statusCode: '400',
        message: 'Bucket name invalid',
      });
    });
  });

  describe('limits', () => {
    test('a declared length over the bucket limit is refused before the body is read', async () => {
      const answer = await upload(`${w.aliceId}/big.txt`, Buffer.alloc(1024 * 1024 + 1, 97));
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual({
        statusCode: '413',
        code: 'EntityTooLarge',
        error: 'Payload too large',
        message: 'The object exceeded the maximum allowed size',
      });
    });

    test('a chunked body is refused while streaming, once it passes the limit', async () => {
      const u = new URL(w.server.url);
      let sent = 0;
      let answered = false;
      const answer = await new Promise<{ status: number; body: string; sentWhenAnswered: number }>(
        (resolve, reject) => {
          const req = http.request({
            host: u.hostname,
            port: u.port,
            path: `/storage/v1/object/documents/${w.aliceId}/stream.bin`,
            method: 'POST',
            headers: {
              apikey: w.server.anonKey,
              authorization: `Bearer ${aliceToken}`,
              'content-type': 'application/octet-stream',
              'transfer-encoding': 'chunked',
            },
          });
          req.on('response', (res) => {
            const sentWhenAnswered = sent;
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            answered = true;
            res.on('end', () => {
              resolve({ status: res.statusCode ?? 0, body, sentWhenAnswered });
              req.destroy();
            });
          });
          req.on('error', (err) => (sent > 0 ? undefined : reject(err)));
          const chunk = Buffer.alloc(64 * 1024, 1);
          const pump = () => {
            // 20 MB would be sent if nobody stopped it; the limit is 1 MB.
            while (sent < 20 * 1024 * 1024 && !req.destroyed && !answered) {
              sent += chunk.length;
              if (!req.write(chunk)) return void req.once('drain', pump);
            }
            if (!req.destroyed && !answered) req.end();
          };
          pump();
        },
      );
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body)).toMatchObject({ statusCode: '413', error: 'Payload too large' });
      expect(answer.sentWhenAnswered).toBeLessThan(20 * 1024 * 1024);
      expect((await w.server.sql.query("select 1 from storage.objects where name like '%stream.bin'")).rowCount).toBe(
        0,
      );
      await expectNoOrphans(w, backend);
    });

    test('a form over the limit (storage-js Blob upload) is refused', async () => {
      const blob = new Blob([Buffer.alloc(1024 * 1024 + 10, 98)], { type: 'text/plain' });
      const result = await w.alice.storage.from('documents').upload(`${w.aliceId}/big-form.txt`, blob);
      expect(result.error).toMatchObject({
        status: 400,
        statusCode: '413',
        message: 'The object exceeded the maximum allowed size',
      });
      await expectNoOrphans(w, backend);
    });

    test('a form cut off in the middle of its file is a 400 and leaves nothing', async () => {
      const boundary = 'trellisboundary';
      const head = `--${boundary}\r\ncontent-disposition: form-data; name="cacheControl"\r\n\r\n3600\r\n--${boundary}\r\ncontent-disposition: form-data; name=""; filename="cut.txt"\r\ncontent-type: text/plain\r\n\r\n`;
      // The closing boundary never comes: the form ends inside the file.
      const answer = await raw('POST', `/storage/v1/object/documents/${w.aliceId}/cut.txt`, {
        body: Buffer.concat([Buffer.from(head), Buffer.alloc(5000, 99)]),
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      });
      expect(answer).toMatchObject({ status: 400, body: { statusCode: '400', error: 'InvalidRequest' } });
      expect((await w.server.sql.query("select 1 from storage.objects where name like '%cut.txt'")).rowCount).toBe(0);
      await expectNoOrphans(w, backend);
    });

    test("an image over the transformer's input bound is refused; a smaller one is transformed", async () => {
      const noisy = await sharp(crypto.randomBytes(120 * 120 * 3), { raw: { width: 120, height: 120, channels: 3 } })
        .png()
        .toBuffer();
      expect(noisy.length).toBeGreaterThan(20000);
      const small = await sharp({ create: { width: 50, height: 50, channels: 3, background: 'red' } })
        .png()
        .toBuffer();
      await w.alice.storage.from('avatars').upload(`${w.aliceId}/noisy.png`, noisy, { contentType: 'image/png' });
      await w.alice.storage.from('avatars').upload(`${w.aliceId}/small.png`, small, { contentType: 'image/png' });
      const big = await raw('GET', `/storage/v1/render/image/public/avatars/${w.aliceId}/noisy.png?width=10`);
      expect(big).toMatchObject({ status: 400, body: { statusCode: '413', error: 'Payload too large' } });
      const ok = await fetch(`${w.server.url}/storage/v1/render/image/public/avatars/${w.aliceId}/small.png?width=10`);
      expect(ok.status).toBe(200);
      expect((await sharp(Buffer.from(await ok.arrayBuffer())).metadata()).width).toBe(10);
    });

    test('a MIME type the bucket does not allow is refused with 415', async () => {
      const result = await w.alice.storage
        .from('documents')
        .upload(`${w.aliceId}/a.zip`, 'PK', { contentType: 'application/zip' });
      expect(result.error).toMatchObject({
        status: 400,
        statusCode: '415',
        message: 'mime type application/zip is not supported',
      });
      const form = await w.alice.storage
        .from('documents')
        .upload(`${w.aliceId}/b.zip`, new Blob(['PK'], { type: 'application/zip' }));
      expect(form.error).toMatchObject({ statusCode: '415' });
      await expectNoOrphans(w, backend);
    });
  });

  describe('missing things and bad tokens', () => {
    test('a missing bucket and a missing object get storage-api bodies', async () => {
      expect(
        await upload('x.txt'.replace('x', 'y')).then(() =>
          raw('POST', '/storage/v1/object/nobucket/x.txt', { body: 'x', headers: { 'content-type': 'text/plain' } }),
        ),
      ).toEqual({
        status: 400,
        body: { statusCode: '404', code: 'NoSuchBucket', error: 'Bucket not found', message: 'Bucket not found' },
      });
      expect(await raw('GET', `/storage/v1/object/documents/${w.aliceId}/absent.txt`)).toEqual({
        status: 400,
        body: { statusCode: '404', code: 'NoSuchKey', error: 'not_found', message: 'Object not found' },
      });
      expect((await w.alice.storage.from('documents').info(`${w.aliceId}/absent.txt`)).error).toMatchObject({
        statusCode: '404',
      });
      expect((await w.alice.storage.from('nobucket').list()).data).toEqual([]);
      expect((await w.admin.storage.deleteBucket('nobucket')).error).toMatchObject({
        statusCode: '404',
        message: 'Bucket not found',
      });
    });

    test('an invalid or expired access token is InvalidJWT', async () => {
      const answer = await raw('GET', `/storage/v1/object/documents/${w.aliceId}/a.txt`, {
        headers: { authorization: 'Bearer not.a.jwt' },
      });
      expect(answer).toEqual({
        status: 400,
        body: { statusCode: '400', code: 'InvalidJWT', error: 'InvalidJWT', message: 'jwt malformed' },
      });
    });

    test('a token for a role other than the API roles is refused', async () => {
      const { SignJWT } = await import('jose');
      const token = await new SignJWT({ role: 'postgres', sub: w.aliceId })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(w.server.jwtSecret));
      const answer = await raw('GET', `/storage/v1/object/documents/${w.aliceId}/a.txt`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(answer).toMatchObject({ status: 400, body: { statusCode: '403', error: 'Unauthorized' } });
    });

    test('a signed URL without a token, or with one for another object, is refused', async () => {
      expect((await raw('GET', `/storage/v1/object/sign/documents/${w.aliceId}/a.txt`)).body).toMatchObject({
        statusCode: '400',
        message: 'Missing Required Parameter token',
      });
    });

    test('a download token does not open its path for uploads, nor an upload token for downloads', async () => {
      const docs = w.alice.storage.from('documents');
      const kept = `${w.aliceId}/kept-${crypto.randomUUID()}.txt`;
      expect((await docs.upload(kept, 'original', { contentType: 'text/plain' })).error).toBeNull();
      const download = (await docs.createSignedUrl(kept, 3600)).data?.signedUrl ?? '';
      const downloadToken = new URL(download).searchParams.get('token') ?? '';
      // The owner removes the file; a holder of the old download URL tries to plant one there.
      expect((await docs.remove([kept])).error).toBeNull();
      const planted = await raw('PUT', `/storage/v1/object/upload/sign/documents/${kept}?token=${downloadToken}`, {
        body: 'planted',
        headers: { 'content-type': 'text/plain' },
      });
      expect(planted).toMatchObject({
        status: 400,
        body: { statusCode: '400', error: 'InvalidSignature', message: 'This token is not for uploads' },
      });
      expect((await docs.exists(kept)).data).toBe(false);

      const fresh = `${w.aliceId}/fresh-${crypto.randomUUID()}.txt`;
      const uploadToken = (await docs.createSignedUploadUrl(fresh)).data?.token ?? '';
      expect(
        (await docs.uploadToSignedUrl(fresh, uploadToken, 'via upload url', { contentType: 'text/plain' })).error,
      ).toBeNull();
      const read = await raw('GET', `/storage/v1/object/sign/documents/${fresh}?token=${uploadToken}`);
      expect(read).toMatchObject({
        status: 400,
        body: { statusCode: '400', error: 'InvalidSignature', message: 'This token is not for downloads' },
      });
    });

    test('bodies that are not JSON objects, and list options out of range', async () => {
      const notJson = await raw('POST', '/storage/v1/object/list/documents', {
        body: '{nope',
        headers: { 'content-type': 'application/json' },
      });
      expect(notJson).toMatchObject({ status: 400, body: { statusCode: '400', error: 'InvalidRequest' } });
      const sort = await w.alice.storage
        .from('documents')
        .list('', { sortBy: { column: 'size; drop table x', order: 'asc' } });
      expect(sort.error).toMatchObject({ statusCode: '400' });
      expect((await w.alice.storage.from('documents').list('', { limit: 100000 })).error).toMatchObject({
        statusCode: '400',
      });
      expect((await w.alice.storage.from('documents').list('', { offset: 1e20 })).error).toMatchObject({
        statusCode: '400',
      });
      expect((await w.alice.storage.from('documents').remove([])).error).toMatchObject({ statusCode: '400' });
      expect((await w.alice.storage.from('documents').createSignedUrl(`${w.aliceId}/a.txt`, -5)).error).toMatchObject({
        statusCode: '400',
      });
    });

    test('the server is healthy afterwards and nothing was left behind', async () => {
      expect((await fetch(`${w.server.url}/health`)).status).toBe(200);
      expect(
        (
          await w.alice.storage
            .from('documents')
            .upload(`${w.aliceId}/after.txt`, 'fine', { contentType: 'text/plain' })
        ).error,
      ).toBeNull();
      await expectNoOrphans(w, backend);
      const tmp = await backend.storedKeys(`${w.server.dir}/.trellis`);
      expect(tmp.every((k) => !k.includes('.tmp'))).toBe(true);
    });
  });
});
