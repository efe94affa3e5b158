/**
 * Where storage-js expects storage-api's exact answers (issue 13): listV2 pages and folders,
 * decimal size units, the single-bucket JSON, the empty-bucket message, info()'s metadata, and
 * a transformed image's content type and X-Transformations header. Through supabase-js.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { localBackend, type StorageBackend } from '../../helpers/storage.js';
import { startStorageWorld, type StorageWorld } from './suite.js';

let backend: StorageBackend;
let w: StorageWorld;

beforeAll(async () => {
  backend = await localBackend();
  w = await startStorageWorld(backend);
  await w.admin.storage.createBucket('shelf', { public: false });
});
afterAll(async () => {
  await w?.server.stop();
  await backend?.stop();
});

describe('listV2', () => {
  const names = ['notes/b.txt', 'notes/a.txt', 'notes/deep/c.txt', 'notes/d.txt', 'top.txt', 'zeta/e.txt'];

  beforeAll(async () => {
    // One at a time, so created_at follows this order.
    for (const name of names) {
      const { error } = await w.admin.storage
        .from('shelf')
        .upload(name, Buffer.from(name), { contentType: 'text/plain' });
      expect(error).toBeNull();
      await new Promise((r) => setTimeout(r, 5));
    }
  });

  test('without a delimiter every object under the prefix is listed, and no folders', async () => {
    const { data, error } = await w.admin.storage.from('shelf').listV2({ prefix: 'notes/' });
    expect(error).toBeNull();
    expect(data?.hasNext).toBe(false);
    expect(data?.folders).toEqual([]);
    expect(data?.objects.map((o) => o.name)).toEqual(['notes/a.txt', 'notes/b.txt', 'notes/d.txt', 'notes/deep/c.txt']);
    expect(data?.objects[0]).toMatchObject({ id: expect.any(String), metadata: expect.objectContaining({ size: 11 }) });
  });

  test('with a delimiter the deeper objects come back as folders, each with its key at this level', async () => {
    const root = await w.admin.storage.from('shelf').listV2({ with_delimiter: true });
    expect(root.error).toBeNull();
    expect(root.data?.folders).toEqual([
      expect.objectContaining({ key: 'notes', name: 'notes/' }),
      expect.objectContaining({ key: 'zeta', name: 'zeta/' }),
    ]);
    expect(root.data?.objects.map((o) => [o.key, o.name])).toEqual([['top.txt', 'top.txt']]);
    const notes = await w.admin.storage.from('shelf').listV2({ prefix: 'notes/', with_delimiter: true });
    expect(notes.data?.folders).toEqual([expect.objectContaining({ key: 'deep', name: 'notes/deep/' })]);
    expect(notes.data?.objects.map((o) => o.key)).toEqual(['a.txt', 'b.txt', 'd.txt']);
  });

  test('the cursor walks every page once, in the order asked for', async () => {
    const walk = async (sortBy?: { column: 'name' | 'created_at'; order: 'asc' | 'desc' }) => {
      const seen: string[][] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const { data, error } = await w.admin.storage
          .from('shelf')
          .listV2({ prefix: 'notes/', limit: 2, ...(cursor ? { cursor } : {}), ...(sortBy ? { sortBy } : {}) });
        expect(error).toBeNull();
        seen.push(data!.objects.map((o) => o.name));
        if (!data!.hasNext) return seen;
        cursor = data!.nextCursor;
        expect(typeof cursor).toBe('string');
      }
      throw new Error('no last page');
    };
    expect(await walk()).toEqual([
      ['notes/a.txt', 'notes/b.txt'],
      ['notes/d.txt', 'notes/deep/c.txt'],
    ]);
    expect(await walk({ column: 'name', order: 'desc' })).toEqual([
      ['notes/deep/c.txt', 'notes/d.txt'],
      ['notes/b.txt', 'notes/a.txt'],
    ]);
    expect(await walk({ column: 'created_at', order: 'asc' })).toEqual([
      ['notes/b.txt', 'notes/a.txt'],
      ['notes/deep/c.txt', 'notes/d.txt'],
    ]);
    expect(await walk({ column: 'created_at', order: 'desc' })).toEqual([
      ['notes/d.txt', 'notes/deep/c.txt'],
      ['notes/a.txt', 'notes/b.txt'],
    ]);
  });

  test('a folder on one page is not repeated on the next', async () => {
    const first = await w.admin.storage.from('shelf').listV2({ with_delimiter: true, limit: 1 });
    expect(first.data?.folders.map((f) => f.name)).toEqual(['notes/']);
    const second = await w.admin.storage
      .from('shelf')
      .listV2({ with_delimiter: true, limit: 5, cursor: first.data!.nextCursor });
    expect(second.data?.folders.map((f) => f.name)).toEqual(['zeta/']);
    expect(second.data?.objects.map((o) => o.name)).toEqual(['top.txt']);
    expect(second.data?.hasNext).toBe(false);
  });

  test('a cursor that is not one is refused, and RLS hides what the caller may not see', async () => {
    const bad = await w.admin.storage.from('shelf').listV2({ cursor: Buffer.from('nonsense').toString('base64') });
    expect(bad.error).toMatchObject({ status: 400 });
    const alice = await w.alice.storage.from('shelf').listV2({});
    expect(alice.data?.objects).toEqual([]);
  });
});

describe('buckets as storage-api answers them', () => {
  test('"20mb" is 20,000,000 bytes, on create and on update', async () => {
    await w.admin.storage.createBucket('sized', { public: false, fileSizeLimit: '20mb' });
    expect((await w.admin.storage.getBucket('sized')).data?.file_size_limit).toBe(20_000_000);
    await w.admin.storage.updateBucket('sized', { public: false, fileSizeLimit: '1.5KB' });
    expect((await w.admin.storage.getBucket('sized')).data?.file_size_limit).toBe(1500);
  });

  test('GET /bucket/<id> gives exactly storage-api’s fields', async () => {
    const { data } = await w.admin.storage.getBucket('shelf');
    expect(Object.keys(data ?? {}).sort()).toEqual([
      'allowed_mime_types',
      'created_at',
      'file_size_limit',
      'id',
      'name',
      'owner',
      'public',
      'updated_at',
    ]);
  });

  test('emptying a bucket answers storage-api’s message, and the bucket is empty', async () => {
    await w.admin.storage.createBucket('to-empty');
    await w.admin.storage.from('to-empty').upload('x.txt', Buffer.from('x'));
    expect((await w.admin.storage.emptyBucket('to-empty')).data).toEqual({
      message: 'Empty bucket has been queued. Completion may take up to an hour.',
    });
    expect((await w.admin.storage.from('to-empty').list()).data).toEqual([]);
  });
});

describe('objects as storage-api answers them', () => {
  test('info() has storage-api’s fields, and metadata {} for an object uploaded without any', async () => {
    await w.admin.storage.from('shelf').upload('plain.txt', Buffer.from('plain'));
    const { data, error } = await w.admin.storage.from('shelf').info('plain.txt');
    expect(error).toBeNull();
    expect(data?.metadata).toEqual({});
    // storage-api's fields, camelised by storage-js: no updatedAt, no lastAccessedAt.
    expect(Object.keys(data ?? {}).sort()).toEqual([
      'bucketId',
      'cacheControl',
      'contentType',
      'createdAt',
      'etag',
      'id',
      'lastModified',
      'metadata',
      'name',
      'size',
      'version',
    ]);
  });

  test('a transformed image is labelled with its own format and the X-Transformations applied', async () => {
    const jpeg = await sharp({ create: { width: 300, height: 300, channels: 3, background: '#884422' } })
      .jpeg()
      .toBuffer();
    // Stored with the wrong content type, as a client that sends none may store a JPEG.
    await w.admin.storage.from('shelf').upload('photo.jpg', jpeg, { contentType: 'text/plain' });
    const res = await w.admin.storage.from('shelf').download('photo.jpg', { transform: { width: 100, height: 100 } });
    expect(res.error).toBeNull();
    expect(res.data?.type).toBe('image/jpeg');

    const signed = await w.admin.storage
      .from('shelf')
      .createSignedUrl('photo.jpg', 60, { transform: { width: 120, height: 80, quality: 70 } });
    const got = await fetch(signed.data!.signedUrl);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('image/jpeg');
    expect(got.headers.get('x-transformations')).toBe('height:80,width:120,resizing_type:fill,quality:70');

    const asPng = await w.admin.storage
      .from('shelf')
      .createSignedUrl('photo.jpg', 60, { transform: { width: 50, resize: 'contain', format: 'png' as 'origin' } });
    const png = await fetch(asPng.data!.signedUrl);
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(png.headers.get('x-transformations')).toBe('width:50,resizing_type:fit,format:png');
  });
});
