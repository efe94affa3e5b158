/**
 * The storage API end to end through @supabase/storage-js, run once per backend: buckets, every
 * object operation, signed and public URLs, download headers, image transforms, and RLS policies
 * written as a Supabase project writes them (each user owns the folder named by their id).
 */
import http from 'node:http';
import type { SupabaseClient } from '@supabase/supabase-js';
import { SignJWT } from 'jose';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';
import type { StorageBackend } from '../../helpers/storage.js';

export const STORAGE_POLICIES = `
insert into storage.buckets (id, name, public) values ('avatars', 'avatars', true);
insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types) values ('documents', 'documents', false, 1048576, array['text/*', 'application/pdf', 'image/*', 'application/octet-stream']);
create policy "buckets are listed" on storage.buckets for select to authenticated using (true);
create policy "avatars are public" on storage.objects for select using (bucket_id = 'avatars');
create policy "own folder: read" on storage.objects for select to authenticated using ((storage.foldername(name))[1] = auth.uid()::text);
create policy "own folder: upload" on storage.objects for insert to authenticated with check (bucket_id in ('avatars', 'documents') and (storage.foldername(name))[1] = auth.uid()::text);
create policy "own folder: update" on storage.objects for update to authenticated using ((storage.foldername(name))[1] = auth.uid()::text) with check ((storage.foldername(name))[1] = auth.uid()::text);
create policy "own folder: delete" on storage.objects for delete to authenticated using ((storage.foldername(name))[1] = auth.uid()::text);
`;

export interface StorageWorld {
  server: TestServer;
  admin: SupabaseClient;
  alice: SupabaseClient;
  bob: SupabaseClient;
  anon: SupabaseClient;
  aliceId: string;
  bobId: string;
}

export async function startStorageWorld(
  backend: StorageBackend,
  env: Record<string, string> = {},
): Promise<StorageWorld> {
  const server = await startTestServer({
    env: { ...backend.env, ...env },
    migrations: { '20240101000000_storage.sql': STORAGE_POLICIES },
  });
  const signedUp = async (name: string): Promise<[SupabaseClient, string]> => {
    const client = supabaseClient(server);
    const { data, error } = await client.auth.signUp({ email: `${name}@example.com`, password: `${name} password` });
    if (error || !data.user) throw error ?? new Error('no user');
    return [client, data.user.id];
  };
  const [alice, aliceId] = await signedUp('alice');
  const [bob, bobId] = await signedUp('bob');
  return {
    server,
    admin: supabaseClient(server, server.serviceRoleKey),
    alice,
    bob,
    anon: supabaseClient(server),
    aliceId,
    bobId,
  };
}

/** Object rows and stored versions agree: no orphan file, no row without bytes. */
export async function expectNoOrphans(world: StorageWorld, backend: StorageBackend) {
  const rows = await world.server.sql.query('select count(*)::int as n from storage.objects');
  const keys = await backend.storedKeys(`${world.server.dir}/.trellis`);
  expect(keys.length).toBe(rows.rows[0].n);
}

export function storageSuite(makeBackend: () => Promise<StorageBackend>) {
  let backend: StorageBackend;
  let w: StorageWorld;

  beforeAll(async () => {
    backend = await makeBackend();
    w = await startStorageWorld(backend);
  });
  afterAll(async () => {
    await w?.server.stop();
    await backend?.stop();
  });

  test('storage.foldername, filename and extension answer as on Supabase', async () => {
    const row = await w.server.sql.query(
      "select storage.foldername('u1/photos/cat.PNG') as f, storage.filename('u1/photos/cat.PNG') as n, storage.extension('u1/photos/cat.PNG') as e, storage.foldername('top.txt') as top, storage.extension('README') as bare",
    );
    expect(row.rows[0]).toEqual({ f: ['u1', 'photos'], n: 'cat.PNG', e: 'PNG', top: [], bare: 'README' });
  });

  describe('buckets', () => {
    test('the service role creates, gets, lists, updates, empties and deletes a bucket', async () => {
      const s = w.admin.storage;
      expect(
        await s.createBucket('photos', { public: false, fileSizeLimit: '2MB', allowedMimeTypes: ['image/*'] }),
      ).toEqual({ data: { name: 'photos' }, error: null });
      const got = await s.getBucket('photos');
      expect(got.data).toMatchObject({
        id: 'photos',
        name: 'photos',
        public: false,
        file_size_limit: 2_000_000,
        allowed_mime_types: ['image/*'],
      });
      const listed = await s.listBuckets();
      expect(listed.data?.map((b) => b.id)).toEqual(['avatars', 'documents', 'photos']);
      expect((await s.listBuckets({ search: 'pho' })).data?.map((b) => b.id)).toEqual(['photos']);
      expect((await s.listBuckets({ sortColumn: 'name', sortOrder: 'desc', limit: 1 })).data?.map((b) => b.id)).toEqual(
        ['photos'],
      );
      expect((await s.updateBucket('photos', { public: true, fileSizeLimit: 100 })).data).toEqual({
        message: 'Successfully updated',
      });
      expect((await s.getBucket('photos')).data).toMatchObject({ public: true, file_size_limit: 100 });
      await w.admin.storage.from('photos').upload('a.png', Buffer.from('x'), { contentType: 'image/png' });
      const notEmpty = await s.deleteBucket('photos');
      expect(notEmpty.error).toMatchObject({
        status: 400,
        statusCode: '409',
        message: 'The bucket you tried to delete is not empty',
      });
      expect((await s.emptyBucket('photos')).data).toEqual({
        message: 'Empty bucket has been queued. Completion may take up to an hour.',
      });
      expect((await s.deleteBucket('photos')).data).toEqual({ message: 'Successfully deleted' });
      const gone = await s.getBucket('photos');
      expect(gone.error).toMatchObject({ status: 400, statusCode: '404', message: 'Bucket not found' });
      await expectNoOrphans(w, backend);
    });

    test('RLS on storage.buckets: a user sees what the policy shows and cannot create buckets without a policy', async () => {
      expect((await w.alice.storage.listBuckets()).data?.map((b) => b.id)).toEqual(['avatars', 'documents']);
      expect((await w.anon.storage.listBuckets()).data).toEqual([]);
      const denied = await w.alice.storage.createBucket('mine');
      expect(denied.error).toMatchObject({ status: 400, statusCode: '403' });
      expect(denied.error?.message).toContain('row-level security');
      const dup = await w.admin.storage.createBucket('avatars');
      expect(dup.error).toMatchObject({ status: 400, statusCode: '409', message: 'The resource already exists' });
    });
  });

  describe('objects under RLS', () => {
    test('a user uploads to their own folder, reads it back, and another user can neither read nor write it', async () => {
      const docs = w.alice.storage.from('documents');
      const up = await docs.upload(`${w.aliceId}/notes.txt`, 'hello alice', { contentType: 'text/plain' });
      expect(up.error).toBeNull();
      expect(up.data).toMatchObject({ path: `${w.aliceId}/notes.txt`, fullPath: `documents/${w.aliceId}/notes.txt` });
      expect(up.data?.id).toMatch(/^[0-9a-f-]{36}$/);
      const down = await docs.download(`${w.aliceId}/notes.txt`);
      expect(await down.data?.text()).toBe('hello alice');
      const row = await w.server.sql.query('select owner, owner_id, metadata from storage.objects where name = $1', [
        `${w.aliceId}/notes.txt`,
      ]);
      expect(row.rows[0]).toMatchObject({
        owner: w.aliceId,
        owner_id: w.aliceId,
        metadata: { size: 11, mimetype: 'text/plain' },
      });

      const bobReads = await w.bob.storage.from('documents').download(`${w.aliceId}/notes.txt`);
      expect(bobReads.error).toMatchObject({ status: 400 });
      const bobWrites = await w.bob.storage
        .from('documents')
        .upload(`${w.aliceId}/evil.txt`, 'x', { contentType: 'text/plain' });
      expect(bobWrites.error).toMatchObject({
        status: 400,
        statusCode: '403',
        message: 'new row violates row-level security policy for table "objects"',
      });
      // Larger bodies are refused before they are read (the permission is tested first).
      const bobWritesLarge = await w.bob.storage
        .from('documents')
        .upload(`${w.aliceId}/evil.bin`, Buffer.alloc(300 * 1024), { contentType: 'application/octet-stream' });
      expect(bobWritesLarge.error).toMatchObject({ status: 400, statusCode: '403' });
      const anonWrites = await w.anon.storage
        .from('documents')
        .upload(`${w.aliceId}/evil.txt`, 'x', { contentType: 'text/plain' });
      expect(anonWrites.error).toMatchObject({ statusCode: '403' });
      const bobRemoves = await w.bob.storage.from('documents').remove([`${w.aliceId}/notes.txt`]);
      expect(bobRemoves.data).toEqual([]);
      expect((await docs.exists(`${w.aliceId}/notes.txt`)).data).toBe(true);
      expect((await w.bob.storage.from('documents').exists(`${w.aliceId}/notes.txt`)).data).toBe(false);
      await expectNoOrphans(w, backend);
    });

    test('a second upload of a name is a 409; upsert and update replace it and leave one stored version', async () => {
      const docs = w.alice.storage.from('documents');
      const name = `${w.aliceId}/replace.txt`;
      expect((await docs.upload(name, 'one', { contentType: 'text/plain' })).error).toBeNull();
      const again = await docs.upload(name, 'two', { contentType: 'text/plain' });
      expect(again.error).toMatchObject({ status: 400, statusCode: '409', message: 'The resource already exists' });
      expect((await docs.upload(name, 'three', { contentType: 'text/plain', upsert: true })).error).toBeNull();
      expect(await (await docs.download(name)).data?.text()).toBe('three');
      expect((await docs.update(name, new Blob(['four!'], { type: 'text/plain' }))).error).toBeNull();
      expect(await (await docs.download(name)).data?.text()).toBe('four!');
      await expectNoOrphans(w, backend);
    });

    test('names with spaces, unicode and punctuation round-trip through upload, list, download and signed URLs', async () => {
      const docs = w.alice.storage.from('documents');
      const name = `${w.aliceId}/Résumé final (v2) + notes, 100 pages.txt`;
      expect((await docs.upload(name, 'unicode body', { contentType: 'text/plain' })).error).toBeNull();
      expect(await (await docs.download(name)).data?.text()).toBe('unicode body');
      expect((await docs.list(w.aliceId, { search: 'Résumé' })).data?.map((f) => f.name)).toEqual([
        'Résumé final (v2) + notes, 100 pages.txt',
      ]);
      const signed = await docs.createSignedUrl(name, 60);
      expect(await (await fetch(signed.data?.signedUrl as string)).text()).toBe('unicode body');
      expect((await docs.remove([name])).data).toHaveLength(1);
    });

    test('info, list with prefix/limit/offset/sort/search, move, copy and remove', async () => {
      const docs = w.alice.storage.from('documents');
      const base = `${w.aliceId}/lists`;
      for (const n of ['b.txt', 'a.txt', 'c.pdf', 'sub/deep.txt']) {
        expect(
          (
            await docs.upload(`${base}/${n}`, `body of ${n}`, {
              contentType: n.endsWith('pdf') ? 'application/pdf' : 'text/plain',
              metadata: { tag: n },
            })
          ).error,
        ).toBeNull();
      }
      const info = await docs.info(`${base}/a.txt`);
      expect(info.data).toMatchObject({
        name: `${base}/a.txt`,
        bucketId: 'documents',
        size: 13,
        contentType: 'text/plain',
        metadata: { tag: 'a.txt' },
      });
      expect(info.data?.etag).toMatch(/^"[0-9a-f]{32}"$/);

      const all = await docs.list(base);
      expect(all.data?.map((f) => [f.name, f.id === null])).toEqual([
        ['a.txt', false],
        ['b.txt', false],
        ['c.pdf', false],
        ['sub', true],
      ]);
      expect(all.data?.[0]?.metadata).toMatchObject({ size: 13, mimetype: 'text/plain' });
      expect((await docs.list(base, { limit: 2, offset: 1 })).data?.map((f) => f.name)).toEqual(['b.txt', 'c.pdf']);
      expect((await docs.list(base, { sortBy: { column: 'name', order: 'desc' } })).data?.map((f) => f.name)).toEqual([
        'sub',
        'c.pdf',
        'b.txt',
        'a.txt',
      ]);
      expect((await docs.list(base, { search: 'c' })).data?.map((f) => f.name)).toEqual(['c.pdf']);
      expect((await docs.list(`${base}/sub`)).data?.map((f) => f.name)).toEqual(['deep.txt']);
      // Bob's policy shows him nothing of Alice's folder.
      expect((await w.bob.storage.from('documents').list(base)).data).toEqual([]);

      expect((await docs.move(`${base}/b.txt`, `${base}/moved/b.txt`)).data).toEqual({ message: 'Successfully moved' });
      expect((await docs.download(`${base}/b.txt`)).error).toMatchObject({ status: 400 });
      expect(await (await docs.download(`${base}/moved/b.txt`)).data?.text()).toBe('body of b.txt');
      const movedOut = await docs.move(`${base}/a.txt`, `${w.bobId}/stolen.txt`);
      expect(movedOut.error).toMatchObject({ statusCode: '403' });

      expect((await docs.copy(`${base}/a.txt`, `${base}/copy.txt`)).data).toEqual({
        path: `documents/${base}/copy.txt`,
      });
      expect(await (await docs.download(`${base}/copy.txt`)).data?.text()).toBe('body of a.txt');
      expect((await docs.copy(`${base}/a.txt`, `${base}/copy.txt`)).error).toMatchObject({ statusCode: '409' });
      expect((await docs.copy(`${base}/a.txt`, `${w.bobId}/gift.txt`)).error).toMatchObject({ statusCode: '403' });

      // Across buckets: Alice's own folder in the public avatars bucket.
      expect(
        (await docs.copy(`${base}/a.txt`, `${w.aliceId}/from-docs.txt`, { destinationBucket: 'avatars' })).data,
      ).toEqual({ path: `avatars/${w.aliceId}/from-docs.txt` });
      expect(
        await (
          await fetch(w.anon.storage.from('avatars').getPublicUrl(`${w.aliceId}/from-docs.txt`).data.publicUrl)
        ).text(),
      ).toBe('body of a.txt');
      expect(
        (await docs.move(`${base}/c.pdf`, `${w.aliceId}/moved.pdf`, { destinationBucket: 'avatars' })).error,
      ).toBeNull();
      expect((await w.anon.storage.from('avatars').exists(`${w.aliceId}/moved.pdf`)).data).toBe(true);

      const removed = await docs.remove([`${base}/a.txt`, `${base}/copy.txt`, `${base}/missing.txt`]);
      expect(removed.data?.map((o) => o.name).sort()).toEqual([`${base}/a.txt`, `${base}/copy.txt`]);
      expect((await docs.exists(`${base}/a.txt`)).data).toBe(false);
      await expectNoOrphans(w, backend);
    });
  });

  describe('URLs', () => {
    test('signed download URLs open the one object until they expire; altered ones are refused', async () => {
      const docs = w.alice.storage.from('documents');
      const name = `${w.aliceId}/signed.txt`;
      await docs.upload(name, 'signed body', { contentType: 'text/plain' });
      const { data, error } = await docs.createSignedUrl(name, 60);
      expect(error).toBeNull();
      const url = data?.signedUrl as string;
      expect(url).toContain('/storage/v1/object/sign/documents/');
      const ok = await fetch(url);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe('signed body');
      expect((await fetch(`${url}&download=`)).headers.get('content-disposition')).toContain(
        'attachment; filename="signed.txt"',
      );

      const token = new URL(url).searchParams.get('token') as string;
      const tampered = url.replace(token, `${token.slice(0, -3)}${token.endsWith('AAA') ? 'BBB' : 'AAA'}`);
      const bad = await fetch(tampered);
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual({
        statusCode: '400',
        code: 'InvalidJWT',
        error: 'InvalidJWT',
        message: 'invalid signature',
      });
      const otherPath = await fetch(url.replace('signed.txt', 'notes.txt'));
      expect(await otherPath.json()).toMatchObject({
        statusCode: '400',
        error: 'InvalidSignature',
        message: 'The url do not match the signature',
      });

      const secret = new TextEncoder().encode(w.server.jwtSecret);
      const past = Math.floor(Date.now() / 1000) - 10;
      const expired = await new SignJWT({ url: `documents/${name}` })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuedAt(past - 60)
        .setExpirationTime(past)
        .sign(secret);
      const late = await fetch(url.replace(token, expired));
      expect(await late.json()).toMatchObject({ statusCode: '400', error: 'InvalidJWT', message: 'jwt expired' });

      // A URL made to last one second, used two seconds later.
      const brief = await docs.createSignedUrl(name, 1);
      await new Promise((r) => setTimeout(r, 2100));
      expect(await (await fetch(brief.data?.signedUrl as string)).json()).toMatchObject({
        statusCode: '400',
        error: 'InvalidJWT',
        message: 'jwt expired',
      });

      const notMine = await w.bob.storage.from('documents').createSignedUrl(name, 60);
      expect(notMine.error).toMatchObject({ statusCode: '404', message: 'Object not found' });
      const many = await docs.createSignedUrls([name, `${w.aliceId}/nope.txt`], 60);
      expect(many.data?.map((d) => [d.path, d.error === null, d.signedUrl === null])).toEqual([
        [name, true, false],
        [`${w.aliceId}/nope.txt`, false, true],
      ]);
      expect(await (await fetch(many.data?.[0]?.signedUrl as string)).text()).toBe('signed body');
    });

    test('signed upload URLs let anyone holding one upload that one object, once permitted for the signer', async () => {
      const name = `${w.aliceId}/dropbox.txt`;
      const signed = await w.alice.storage.from('documents').createSignedUploadUrl(name);
      expect(signed.error).toBeNull();
      const put = await w.anon.storage
        .from('documents')
        .uploadToSignedUrl(name, signed.data?.token as string, 'dropped', { contentType: 'text/plain' });
      expect(put.error).toBeNull();
      expect(await (await w.alice.storage.from('documents').download(name)).data?.text()).toBe('dropped');
      const row = await w.server.sql.query('select owner from storage.objects where name = $1', [name]);
      expect(row.rows[0].owner).toBe(w.aliceId);
      const elsewhere = await w.anon.storage
        .from('documents')
        .uploadToSignedUrl(`${w.aliceId}/other.txt`, signed.data?.token as string, 'x');
      expect(elsewhere.error).toMatchObject({ statusCode: '400', message: 'The url do not match the signature' });
      const refused = await w.bob.storage.from('documents').createSignedUploadUrl(`${w.aliceId}/bob.txt`);
      expect(refused.error).toMatchObject({ statusCode: '403' });
      await expectNoOrphans(w, backend);
    });

    test('public URLs serve public buckets without a key; a private bucket is not found', async () => {
      const name = `${w.aliceId}/me.txt`;
      await w.alice.storage
        .from('avatars')
        .upload(name, 'public me', { contentType: 'text/plain', cacheControl: '120' });
      const { publicUrl } = w.anon.storage.from('avatars').getPublicUrl(name).data;
      const res = await fetch(publicUrl);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('public me');
      expect(res.headers.get('cache-control')).toBe('max-age=120');
      const hidden = await fetch(
        w.anon.storage.from('documents').getPublicUrl(`${w.aliceId}/notes.txt`).data.publicUrl,
      );
      expect(hidden.status).toBe(400);
      expect(await hidden.json()).toMatchObject({ statusCode: '404', error: 'Bucket not found' });
    });
  });

  describe('download headers', () => {
    test('Content-Type, Content-Length, ETag, Last-Modified, Cache-Control; Range, If-None-Match, If-Modified-Since', async () => {
      const name = `${w.aliceId}/headers.txt`;
      await w.alice.storage.from('avatars').upload(name, '0123456789', { contentType: 'text/plain' });
      const url = w.anon.storage.from('avatars').getPublicUrl(name).data.publicUrl;
      const full = await fetch(url);
      expect(full.headers.get('content-type')).toBe('text/plain');
      expect(full.headers.get('content-length')).toBe('10');
      expect(full.headers.get('cache-control')).toBe('max-age=3600');
      const etag = full.headers.get('etag') as string;
      const modified = full.headers.get('last-modified') as string;
      expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
      expect(new Date(modified).getTime()).toBeGreaterThan(Date.now() - 60_000);
      await full.arrayBuffer();

      const part = await fetch(url, { headers: { range: 'bytes=2-5' } });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe('bytes 2-5/10');
      expect(await part.text()).toBe('2345');
      const tail = await fetch(url, { headers: { range: 'bytes=-3' } });
      expect(await tail.text()).toBe('789');
      const outside = await fetch(url, { headers: { range: 'bytes=20-30' } });
      expect(outside.status).toBe(416);
      expect(outside.headers.get('content-range')).toBe('bytes */10');
      await outside.arrayBuffer();

      expect((await fetch(url, { headers: { 'if-none-match': etag } })).status).toBe(304);
      expect((await fetch(url, { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
      expect((await fetch(url, { headers: { 'if-modified-since': modified } })).status).toBe(304);
      expect(
        (await fetch(url, { headers: { 'if-modified-since': new Date(Date.now() - 3_600_000).toUTCString() } })).status,
      ).toBe(200);
      const head = await fetch(url, { method: 'HEAD' });
      expect(head.headers.get('content-length')).toBe('10');
    });
  });

  describe('image transformations', () => {
    test('render/image resizes and converts to WebP and AVIF; a non-image is a 400', async () => {
      const png = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#3366cc' } })
        .png()
        .toBuffer();
      const name = `${w.aliceId}/pic.png`;
      expect((await w.alice.storage.from('avatars').upload(name, png, { contentType: 'image/png' })).error).toBeNull();
      const webp = await w.alice.storage
        .from('avatars')
        .download(name, { transform: { width: 50, height: 50, resize: 'contain', format: 'webp' as 'origin' } });
      expect(webp.error).toBeNull();
      const webpMeta = await sharp(Buffer.from(await (webp.data as Blob).arrayBuffer())).metadata();
      expect(webpMeta).toMatchObject({ format: 'webp', width: 50, height: 50 });
      const publicUrl = w.anon.storage.from('avatars').getPublicUrl(name, { transform: { width: 40, quality: 50 } })
        .data.publicUrl;
      const res = await fetch(`${publicUrl}&format=avif`);
      expect(res.headers.get('content-type')).toBe('image/avif');
      expect(await sharp(Buffer.from(await res.arrayBuffer())).metadata()).toMatchObject({ width: 40, height: 20 });
      const again = await fetch(`${publicUrl}&format=avif`, {
        headers: { 'if-none-match': res.headers.get('etag') as string },
      });
      expect(again.status).toBe(304);
      const signed = await w.alice.storage
        .from('avatars')
        .createSignedUrl(name, 60, { transform: { width: 20, height: 20 } });
      const signedRes = await fetch(signed.data?.signedUrl as string);
      expect(await sharp(Buffer.from(await signedRes.arrayBuffer())).metadata()).toMatchObject({
        format: 'png',
        width: 20,
        height: 20,
      });

      await w.alice.storage
        .from('avatars')
        .upload(`${w.aliceId}/not-an-image.png`, 'text', { contentType: 'image/png' });
      const broken = await fetch(
        w.anon.storage.from('avatars').getPublicUrl(`${w.aliceId}/not-an-image.png`, { transform: { width: 10 } }).data
          .publicUrl,
      );
      expect(broken.status).toBe(400);
      const tooWide = await fetch(`${publicUrl.replace('width=40', 'width=99999')}`);
      expect(tooWide.status).toBe(400);
    });
  });

  describe('concurrency and failures leave no orphans', () => {
    test('concurrent uploads of one name: one wins, the others get 409, one row and one stored file remain', async () => {
      const docs = w.alice.storage.from('documents');
      const name = `${w.aliceId}/race.txt`;
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => docs.upload(name, `writer ${i}`, { contentType: 'text/plain' })),
      );
      expect(results.filter((r) => r.error === null)).toHaveLength(1);
      expect(results.filter((r) => r.error?.message === 'The resource already exists')).toHaveLength(5);
      const upserts = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          docs.upload(name, `upsert ${i}`, { contentType: 'text/plain', upsert: true }),
        ),
      );
      expect(upserts.every((r) => r.error === null)).toBe(true);
      expect(await (await docs.download(name)).data?.text()).toMatch(/^upsert \d$/);
      // Plain uploads, upserts and removals of one new name at once: whatever wins, rows and bytes agree.
      const mixed = `${w.aliceId}/mixed.txt`;
      await Promise.all(
        Array.from({ length: 9 }, (_, i) =>
          i % 3 === 2
            ? docs.remove([mixed])
            : docs.upload(mixed, `mixed ${i}`, { contentType: 'text/plain', upsert: i % 3 === 1 }),
        ),
      );
      await expectNoOrphans(w, backend);
    });

    test('a truncated upload leaves no row and no file; the server stays healthy', async () => {
      const name = `${w.aliceId}/truncated.bin`;
      const { data } = await w.alice.auth.getSession();
      await new Promise<void>((resolve) => {
        const u = new URL(`${w.server.url}/storage/v1/object/documents/${name}`);
        const req = http.request({
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          headers: {
            apikey: w.server.anonKey,
            authorization: `Bearer ${data.session?.access_token}`,
            'content-type': 'application/octet-stream',
            'content-length': '100000',
          },
        });
        req.on('error', () => resolve());
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve());
        });
        req.write(Buffer.alloc(30_000, 1));
        setTimeout(() => req.destroy(), 300);
      });
      await new Promise((r) => setTimeout(r, 300));
      expect((await w.server.sql.query('select 1 from storage.objects where name = $1', [name])).rowCount).toBe(0);
      await expectNoOrphans(w, backend);
      expect(
        (await w.alice.storage.from('documents').upload(name, 'whole', { contentType: 'text/plain' })).error,
      ).toBeNull();
    });
  });
}
