/**
 * Resumable uploads end to end: tus-js-client with a supabase-js session token, through a TCP proxy
 * the test cuts, and through a server restart; RLS, x-upsert and bad input as storage-api answers
 * them. The upload cut twice is the 200 MiB on the local disk, 24 MiB on moto (the same
 * code path; moto keeps every part in its memory).
 */
import crypto from 'node:crypto';
import type { SupabaseClient } from '@supabase/supabase-js';
import { SignJWT } from 'jose';
import * as tus from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort } from '../helpers/cli.js';
import { startTestServer, supabaseClient, type TestServer } from '../helpers/server.js';
import { localBackend, motoBackend, motoMissing, type StorageBackend } from '../helpers/storage.js';
import { tcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const POLICIES = `
insert into storage.buckets (id, name, public) values ('videos', 'videos', false);
insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types) values ('small', 'small', false, 1000, array['text/plain']);
create policy "own folder: read" on storage.objects for select to authenticated using ((storage.foldername(name))[1] = auth.uid()::text);
create policy "own folder: upload" on storage.objects for insert to authenticated with check (bucket_id in ('videos', 'small') and (storage.foldername(name))[1] = auth.uid()::text);
create policy "own folder: update" on storage.objects for update to authenticated using ((storage.foldername(name))[1] = auth.uid()::text);
`;

const MIB = 1024 * 1024;
const CHUNK_BYTES = 4 * MIB;
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** `cutFileBytes`: the size of the upload whose connection is cut twice. */
function resumableSuite(makeBackend: () => Promise<StorageBackend>, cutFileBytes: number) {
  let backend: StorageBackend;
  let proxy: TcpProxy;
  let server: TestServer;
  let port: number;
  let alice: SupabaseClient;
  let aliceId: string;
  let aliceToken: string;
  let bobToken: string;
  let endpoint: string;

  const start = () =>
    startTestServer({
      env: {
        ...backend.env,
        API_EXTERNAL_URL: `http://127.0.0.1:${proxy.port}`,
        STORAGE_FILE_SIZE_LIMIT: String(Math.max(64 * MIB, cutFileBytes)),
      },
      migrations: { '20240101000000_storage.sql': POLICIES },
      port,
    });

  beforeAll(async () => {
    backend = await makeBackend();
    port = await freePort();
    proxy = await tcpProxy(port);
    server = await start();
    endpoint = `http://127.0.0.1:${proxy.port}/storage/v1/upload/resumable`;
    const signedUp = async (name: string): Promise<[SupabaseClient, string, string]> => {
      const client = supabaseClient(server);
      const { data, error } = await client.auth.signUp({ email: `${name}@example.com`, password: `${name} password` });
      if (error || !data.user || !data.session) throw error ?? new Error('no user');
      return [client, data.user.id, data.session.access_token];
    };
    [alice, aliceId, aliceToken] = await signedUp('alice');
    [, , bobToken] = await signedUp('bob');
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await proxy?.close();
    await backend?.stop();
  });

  const headers = (token: string, extra: Record<string, string> = {}) => ({
    apikey: server.anonKey,
    authorization: `Bearer ${token}`,
    ...extra,
  });

  /** Runs a tus-js-client upload to its end; `onProgress` may cut the connection. */
  function tusUpload(
    file: Buffer,
    options: {
      token: string;
      objectName: string;
      bucketName?: string;
      upsert?: boolean;
      onProgress?: (sent: number, upload: tus.Upload) => void;
      uploadUrl?: string;
      metadata?: Record<string, string>;
    },
  ): Promise<{ url: string }> {
    return new Promise((resolve, reject) => {
      const upload: tus.Upload = new tus.Upload(file, {
        endpoint,
        ...(options.uploadUrl && { uploadUrl: options.uploadUrl }),
        chunkSize: CHUNK_BYTES,
        retryDelays: [0, 200, 500, 1000, 2000],
        headers: headers(options.token, options.upsert ? { 'x-upsert': 'true' } : {}),
        removeFingerprintOnSuccess: true,
        metadata: {
          bucketName: options.bucketName ?? 'videos',
          objectName: options.objectName,
          contentType: 'video/mp4',
          cacheControl: '3600',
          ...options.metadata,
        },
        onProgress: (sent) => options.onProgress?.(sent, upload),
        onError: reject,
        onSuccess: () => resolve({ url: upload.url ?? '' }),
      });
      upload.start();
    });
  }

  async function downloaded(name: string): Promise<Buffer> {
    const { data, error } = await alice.storage.from('videos').download(name);
    if (error) throw error;
    return Buffer.from(await data.arrayBuffer());
  }

  /** A raw TUS request as a client sends it. */
  const tusFetch = (url: string, method: string, extra: Record<string, string>, body?: Buffer) =>
    fetch(url, {
      method,
      headers: { 'tus-resumable': '1.0.0', ...extra },
      ...(body && { body: new Uint8Array(body) }),
    });

  const meta = (pairs: Record<string, string>) =>
    Object.entries(pairs)
      .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
      .join(',');

  test('a chunked upload through a connection cut twice resumes and its bytes match', async () => {
    const file = crypto.randomBytes(cutFileBytes);
    // A quarter and two thirds of the way.
    const cuts = [Math.floor(cutFileBytes / 4), Math.floor((cutFileBytes * 2) / 3)];
    let cut = 0;
    const name = `${aliceId}/movie.mp4`;
    const { url } = await tusUpload(file, {
      token: aliceToken,
      objectName: name,
      onProgress: (sent) => {
        if (cut < cuts.length && sent >= cuts[cut]!) {
          cut += 1;
          void proxy.cut().then(() => setTimeout(() => void proxy.restore(), 100));
        }
      },
    });
    expect(cut).toBe(2);
    // storage-api's upload URL: the public URL, then base64url(bucket/name/version).
    const id = url.split('/').pop() ?? '';
    expect(url.startsWith(`${endpoint}/`)).toBe(true);
    expect(Buffer.from(id, 'base64url').toString()).toMatch(new RegExp(`^videos/${name}/[0-9a-f-]{36}$`));
    expect(sha256(await downloaded(name))).toBe(sha256(file));
    const row = await server.sql.query(
      "select owner_id, metadata from storage.objects where bucket_id = 'videos' and name = $1",
      [name],
    );
    expect(row.rows[0].owner_id).toBe(aliceId);
    expect(row.rows[0].metadata).toMatchObject({
      size: cutFileBytes,
      mimetype: 'video/mp4',
      cacheControl: 'max-age=3600',
      eTag: `"${crypto.createHash('md5').update(file).digest('hex')}"`,
    });
    // The staged bytes and state are gone once the object is written.
    expect(await backend.storedKeys(`${server.dir}/.trellis`)).toHaveLength(1);
    expect(await backend.stagedKeys(`${server.dir}/.trellis`)).toEqual([]);
  }, 120_000);

  test('an upload resumes after the server restarts', async () => {
    const file = crypto.randomBytes(12 * MIB);
    const name = `${aliceId}/restart.mp4`;
    let firstUrl = '';
    // The first client stops itself after its first chunk and the server goes away.
    await new Promise<void>((resolve, reject) => {
      const upload = new tus.Upload(file, {
        endpoint,
        chunkSize: CHUNK_BYTES,
        retryDelays: [],
        headers: headers(aliceToken),
        metadata: { bucketName: 'videos', objectName: name, contentType: 'video/mp4' },
        onChunkComplete: () => {
          firstUrl = upload.url ?? '';
          void upload.abort().then(resolve, reject);
        },
        onError: reject,
      });
      upload.start();
    });
    await server.restart();
    const head = await tusFetch(firstUrl, 'HEAD', headers(aliceToken));
    expect([head.status, await head.text()]).toEqual([200, '']);
    expect(Number(head.headers.get('upload-offset'))).toBe(CHUNK_BYTES);
    await tusUpload(file, { token: aliceToken, objectName: name, uploadUrl: firstUrl });
    expect(sha256(await downloaded(name))).toBe(sha256(file));
  }, 120_000);

  test('a user without an insert policy on the path is refused with 403 before any byte', async () => {
    const res = await tusFetch(endpoint, 'POST', {
      ...headers(bobToken),
      'upload-length': '10',
      'upload-metadata': meta({ bucketName: 'videos', objectName: `${aliceId}/not-bobs.mp4` }),
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toBe('new row violates row-level security policy for table "objects"');
    expect(res.headers.get('location')).toBeNull();
  });

  test('x-upsert replaces an object; without it a taken name is 409', async () => {
    const name = `${aliceId}/twice.mp4`;
    await tusUpload(Buffer.from('first'), { token: aliceToken, objectName: name });
    const taken = await tusFetch(endpoint, 'POST', {
      ...headers(aliceToken),
      'upload-length': '6',
      'upload-metadata': meta({ bucketName: 'videos', objectName: name }),
    });
    expect(taken.status).toBe(409);
    expect(await taken.text()).toBe('The resource already exists');
    await tusUpload(Buffer.from('second'), { token: aliceToken, objectName: name, upsert: true });
    expect((await downloaded(name)).toString()).toBe('second');

    // Taken between creation and a PATCH: 409 before any byte is written, the upload stays at 0.
    const racing = await tusFetch(endpoint, 'POST', {
      ...headers(aliceToken),
      'upload-length': '5',
      'upload-metadata': meta({ bucketName: 'videos', objectName: `${aliceId}/raced.txt` }),
    });
    const raced = racing.headers.get('location') ?? '';
    await tusUpload(Buffer.from('first'), { token: aliceToken, objectName: `${aliceId}/raced.txt` });
    const patchRaced = await tusFetch(
      raced,
      'PATCH',
      { ...headers(aliceToken), 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      Buffer.from('later'),
    );
    expect([patchRaced.status, await patchRaced.text()]).toEqual([409, 'The resource already exists']);
    const head = await tusFetch(raced, 'HEAD', headers(aliceToken));
    expect([head.status, head.headers.get('upload-offset')]).toEqual([200, '0']);
    expect((await downloaded(`${aliceId}/raced.txt`)).toString()).toBe('first');
  });

  test('a complete upload whose row is refused at the end is removed, not left at its full offset', async () => {
    const name = `${aliceId}/refused-late.txt`;
    const created = await tusFetch(endpoint, 'POST', {
      ...headers(aliceToken),
      'upload-length': '5',
      'upload-metadata': meta({ bucketName: 'small', objectName: name, contentType: 'text/plain' }),
    });
    const location = created.headers.get('location') ?? '';
    // The bucket stops taking text/plain between the creation and the last byte.
    await server.sql.query("update storage.buckets set allowed_mime_types = array['image/png'] where id = 'small'");
    try {
      const last = await tusFetch(
        location,
        'PATCH',
        { ...headers(aliceToken), 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
        Buffer.from('hello'),
      );
      expect([last.status, await last.text()]).toEqual([415, 'mime type text/plain is not supported']);
      // A client asking for the offset is not told "5 of 5" (which it would take for success).
      expect([404, 410]).toContain((await tusFetch(location, 'HEAD', headers(aliceToken))).status);
      const rows = await server.sql.query('select 1 from storage.objects where name = $1', [name]);
      expect(rows.rowCount).toBe(0);
    } finally {
      await server.sql.query("update storage.buckets set allowed_mime_types = array['text/plain'] where id = 'small'");
    }
  });

  test("a signed upload URL's token uploads its one object resumably, owned by the signer", async () => {
    const name = `${aliceId}/signed.mp4`;
    const { data, error } = await alice.storage.from('videos').createSignedUploadUrl(name);
    if (error) throw error;
    const file = crypto.randomBytes(3 * MIB);
    // Whoever holds the token: no apikey, no JWT.
    await new Promise<void>((resolve, reject) => {
      const upload = new tus.Upload(file, {
        endpoint: `${endpoint}/sign`,
        chunkSize: MIB,
        retryDelays: [],
        headers: { 'x-signature': data.token },
        metadata: { bucketName: 'videos', objectName: name, contentType: 'video/mp4' },
        onError: reject,
        onSuccess: () => {
          expect(upload.url).toMatch(new RegExp(`^${endpoint}/sign/`));
          resolve();
        },
      });
      upload.start();
    });
    expect(sha256(await downloaded(name))).toBe(sha256(file));
    const row = await server.sql.query(
      "select owner_id from storage.objects where bucket_id = 'videos' and name = $1",
      [name],
    );
    expect(row.rows[0].owner_id).toBe(aliceId);

    const create = (extra: Record<string, string>, objectName: string) =>
      tusFetch(`${endpoint}/sign`, 'POST', {
        ...extra,
        'upload-length': '5',
        'upload-metadata': meta({ bucketName: 'videos', objectName }),
      });
    const other = await create({ 'x-signature': data.token }, `${aliceId}/another.mp4`);
    expect([other.status, await other.text()]).toEqual([400, 'The url do not match the signature']);
    const none = await create({}, name);
    expect([none.status, await none.text()]).toEqual([400, 'Missing x-signature header']);
  });

  test('creation-with-upload and termination', async () => {
    const name = `${aliceId}/one-shot.txt`;
    const created = await tusFetch(
      endpoint,
      'POST',
      {
        ...headers(aliceToken),
        'upload-length': '5',
        'content-type': 'application/offset+octet-stream',
        'upload-metadata': meta({ bucketName: 'videos', objectName: name, contentType: 'text/plain' }),
      },
      Buffer.from('hello'),
    );
    expect([created.status, await created.text()]).toEqual([201, '']);
    expect(created.headers.get('upload-offset')).toBe('5');
    expect((await downloaded(name)).toString()).toBe('hello');

    const pending = await tusFetch(endpoint, 'POST', {
      ...headers(aliceToken),
      'upload-length': '100',
      'upload-metadata': meta({ bucketName: 'videos', objectName: `${aliceId}/dropped.txt` }),
    });
    const location = pending.headers.get('location') ?? '';
    // A browser reads the offset and the location: both are exposed to scripts of any origin.
    const fromPage = await tusFetch(location, 'HEAD', { ...headers(aliceToken), origin: 'https://app.example' });
    expect(fromPage.headers.get('access-control-allow-origin')).toBe('*');
    expect(fromPage.headers.get('access-control-expose-headers')?.toLowerCase()).toMatch(/upload-offset/);
    expect(fromPage.headers.get('access-control-expose-headers')?.toLowerCase()).toMatch(/location/);
    const before = await backend.storedKeys(`${server.dir}/.trellis`);
    const staged = await backend.stagedKeys(`${server.dir}/.trellis`);
    expect(staged.length).toBeGreaterThan(0);
    expect((await tusFetch(location, 'DELETE', headers(aliceToken))).status).toBe(204);
    expect([404, 410]).toContain((await tusFetch(location, 'HEAD', headers(aliceToken))).status);
    expect(await backend.storedKeys(`${server.dir}/.trellis`)).toEqual(before);
    expect((await backend.stagedKeys(`${server.dir}/.trellis`)).length).toBeLessThan(staged.length);
  });

  test('bad input is a 4xx naming the problem', async () => {
    const post = (extra: Record<string, string>) => tusFetch(endpoint, 'POST', { ...headers(aliceToken), ...extra });
    const good = meta({ bucketName: 'videos', objectName: `${aliceId}/bad.txt` });

    const badLength = await post({ 'upload-length': 'ten', 'upload-metadata': good });
    expect(badLength.status).toBe(400);
    expect(await badLength.text()).toMatch(/Invalid upload-length/);

    const badBase64 = await post({ 'upload-length': '10', 'upload-metadata': 'bucketName !!notbase64' });
    expect(badBase64.status).toBe(400);
    expect(await badBase64.text()).toBe('Invalid upload-metadata\n');

    const noBucket = await post({
      'upload-length': '10',
      'upload-metadata': meta({ bucketName: 'nope', objectName: `${aliceId}/x.txt` }),
    });
    expect(noBucket.status).toBe(404);
    expect(await noBucket.text()).toBe('Bucket not found');

    const nul = await post({
      'upload-length': '10',
      'upload-metadata': meta({ bucketName: 'videos', objectName: `${aliceId}/a\u0000b.txt` }),
    });
    expect(nul.status).toBe(400);
    expect(await nul.text()).toMatch(/^Invalid key/);

    const noName = await post({ 'upload-length': '10', 'upload-metadata': meta({ bucketName: 'videos' }) });
    expect(noName.status).toBe(400);
    expect(await noName.text()).toBe('Missing Required Parameter objectName');

    const tooLarge = await post({
      'upload-length': '2000',
      'upload-metadata': meta({ bucketName: 'small', objectName: `${aliceId}/big.txt`, contentType: 'text/plain' }),
    });
    expect(tooLarge.status).toBe(413);

    // A length given later is bounded while the bytes arrive.
    const deferred = await post({
      'upload-defer-length': '1',
      'upload-metadata': meta({ bucketName: 'small', objectName: `${aliceId}/later.txt`, contentType: 'text/plain' }),
    });
    expect(deferred.status).toBe(201);
    const overLimit = await tusFetch(
      deferred.headers.get('location') ?? '',
      'PATCH',
      { ...headers(aliceToken), 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      Buffer.alloc(2000, 'x'),
    );
    expect(overLimit.status).toBe(413);

    const badMime = await post({
      'upload-length': '10',
      'upload-metadata': meta({ bucketName: 'small', objectName: `${aliceId}/x.png`, contentType: 'image/png' }),
    });
    expect(badMime.status).toBe(415);
    expect(await badMime.text()).toBe('mime type image/png is not supported');

    const badUserMetadata = await post({
      'upload-length': '10',
      'upload-metadata': meta({ bucketName: 'videos', objectName: `${aliceId}/m.txt`, metadata: '[1,' }),
    });
    expect(badUserMetadata.status).toBe(400);
    expect(await badUserMetadata.text()).toBe('metadata must be a JSON object');

    const forged = await new SignJWT({ role: 'authenticated', sub: aliceId })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('not-the-secret-but-long-enough-32-chars!'));
    const forgedRes = await tusFetch(endpoint, 'POST', {
      ...headers(forged),
      'upload-length': '10',
      'upload-metadata': good,
    });
    expect(forgedRes.status).toBe(400);
    expect(await forgedRes.text()).toBe('invalid signature');

    // A wrong offset is a conflict, and the upload is still where it was.
    const created = await post({ 'upload-length': '10', 'upload-metadata': good });
    const location = created.headers.get('location') ?? '';
    const patch = (offset: string, body: string) =>
      tusFetch(
        location,
        'PATCH',
        { ...headers(aliceToken), 'upload-offset': offset, 'content-type': 'application/offset+octet-stream' },
        Buffer.from(body),
      );
    expect((await patch('0', 'hello')).status).toBe(204);
    const conflict = await patch('3', 'world');
    expect(conflict.status).toBe(409);
    expect(await conflict.text()).toBe('Upload-Offset conflict\n');
    // Bytes past the declared length are refused.
    expect((await patch('5', 'world and more')).status).toBe(413);
    const done = await patch('5', 'world');
    expect(done.status).toBe(204);
    expect(done.headers.get('upload-offset')).toBe('10');

    // An id that names no upload, and one rewrapped under another name.
    const forgedId = Buffer.from(`videos/${aliceId}/other.txt/${crypto.randomUUID()}`).toString('base64url');
    expect((await tusFetch(`${endpoint}/${forgedId}`, 'HEAD', headers(aliceToken))).status).toBe(404);
    expect((await tusFetch(`${endpoint}/%00`, 'HEAD', headers(aliceToken))).status).toBe(404);

    // The server is still healthy.
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
}

describe('resumable uploads on the local disk', () => resumableSuite(localBackend, 200 * MIB));
describe('abandoned resumable uploads', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      env: { STORAGE_RESUMABLE_EXPIRY_MS: '1000', STORAGE_RESUMABLE_SWEEP_INTERVAL_MS: '300' },
      migrations: { '20240101000000_storage.sql': POLICIES },
    });
  });
  afterAll(() => server?.stop());

  test('expire and are removed by the sweep', async () => {
    const endpoint = `${server.url}/storage/v1/upload/resumable`;
    const name = Buffer.from('me/abandoned.bin').toString('base64');
    const created = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'tus-resumable': '1.0.0',
        apikey: server.serviceRoleKey,
        authorization: `Bearer ${server.serviceRoleKey}`,
        'upload-length': '100',
        'upload-metadata': `bucketName ${Buffer.from('videos').toString('base64')},objectName ${name}`,
      },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('upload-expires')).not.toBeNull();
    const staged = () => localBackend().then((b) => b.stagedKeys(`${server.dir}/.trellis`));
    expect(await staged()).toHaveLength(2);
    const deadline = Date.now() + 10_000;
    while ((await staged()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await staged()).toEqual([]);
    const head = await fetch(created.headers.get('location') ?? '', {
      method: 'HEAD',
      headers: { 'tus-resumable': '1.0.0', apikey: server.serviceRoleKey },
    });
    expect([404, 410]).toContain(head.status);
  });
});

// s3rver (the other storage tests' S3) has no ListParts, which @tus/s3-store needs; moto has.
const noMoto = motoMissing();
if (noMoto) console.warn(`resumable uploads on S3 skipped: ${noMoto}`);
describe.skipIf(noMoto !== undefined)('resumable uploads on S3 (moto)', () => resumableSuite(motoBackend, 24 * MIB));
