/** The ObjectStore contract, run against both implementations (local disk; S3 through s3rver). */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import {
  createObjectStore,
  MissingObject,
  TooLarge,
  type ObjectKey,
  type ObjectStore,
} from '../../../src/platform/store/index.js';
import { localBackend, s3Backend, type StorageBackend } from '../../helpers/storage.js';

const key = (name: string, version = 'v1'): ObjectKey => ({ bucket: 'b', name, version });

describe.each([
  ['local disk', localBackend],
  ['S3 (s3rver)', s3Backend],
])('ObjectStore on %s', (_where, makeBackend) => {
  let backend: StorageBackend;
  let store: ObjectStore;
  let dir: string;

  beforeAll(async () => {
    backend = await makeBackend();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-store-'));
    store = await createObjectStore(loadConfig({ dir }, backend.env));
  });
  afterAll(async () => {
    await store?.close();
    await backend?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const stored = () => backend.storedKeys(path.join(dir, '.trellis'));

  test('writes, reads whole and in ranges, copies and removes', async () => {
    const written = await store.write(key('a/b.txt'), Readable.from([Buffer.from('hello '), Buffer.from('world')]), {
      maxBytes: 100,
      contentType: 'text/plain',
    });
    expect(written).toEqual({ size: 11, md5: '5eb63bbbe01eeed093cb22bb8f5acdc3' });
    expect(await text(await store.read(key('a/b.txt')))).toBe('hello world');
    expect(await text(await store.read(key('a/b.txt'), { start: 6, end: 10 }))).toBe('world');
    await store.copy(key('a/b.txt'), key('c.txt', 'v2'));
    expect(await text(await store.read(key('c.txt', 'v2')))).toBe('hello world');
    await store.remove([key('a/b.txt'), key('c.txt', 'v2'), key('never-there')]);
    await expect(store.read(key('a/b.txt'))).rejects.toBeInstanceOf(MissingObject);
    expect(await stored()).toEqual([]);
  });

  test('adopts a complete file (a finished resumable upload), leaving the file to its owner', async () => {
    const file = path.join(dir, 'staged');
    await fs.writeFile(file, 'hello world');
    const written = await store.adopt(key('adopted.txt'), file, { maxBytes: 100, contentType: 'text/plain' });
    expect(written).toEqual({ size: 11, md5: '5eb63bbbe01eeed093cb22bb8f5acdc3' });
    await fs.rm(file);
    expect(await text(await store.read(key('adopted.txt')))).toBe('hello world');
    await expect(
      store.adopt(key('big.txt'), (await fs.writeFile(file, 'x'.repeat(101)), file), {
        maxBytes: 100,
        contentType: 'text/plain',
      }),
    ).rejects.toBeInstanceOf(TooLarge);
    await store.remove([key('adopted.txt')]);
    expect(await stored()).toEqual([]);
  });

  test('a body over maxBytes fails with TooLarge and leaves nothing', async () => {
    const body = Readable.from(
      (function* () {
        for (let i = 0; i < 100; i++) yield Buffer.alloc(64 * 1024, i);
      })(),
    );
    await expect(
      store.write(key('big'), body, { maxBytes: 1024 * 1024, contentType: 'application/octet-stream' }),
    ).rejects.toBeInstanceOf(TooLarge);
    await expect(store.read(key('big'))).rejects.toBeInstanceOf(MissingObject);
    expect(await stored()).toEqual([]);
  });

  test('a body that fails midway leaves nothing', async () => {
    const body = new PassThrough();
    const writing = store.write(key('cut'), body, {
      maxBytes: 10 * 1024 * 1024,
      contentType: 'application/octet-stream',
    });
    body.write(Buffer.alloc(100_000, 1));
    setTimeout(() => body.destroy(new Error('client went away')), 50);
    await expect(writing).rejects.toThrow();
    await expect(store.read(key('cut'))).rejects.toBeInstanceOf(MissingObject);
    expect(await stored()).toEqual([]);
  });

  test('names are never paths: traversal-looking names stay inside the store', async () => {
    await store.write(key('../../etc/passwd'), Readable.from([Buffer.from('x')]), {
      maxBytes: 10,
      contentType: 'text/plain',
    });
    expect(await text(await store.read(key('../../etc/passwd')))).toBe('x');
    const keys = await stored();
    expect(keys).toHaveLength(1);
    if (backend.name === 'local') expect(keys[0]?.startsWith(path.join(dir, '.trellis', 'storage'))).toBe(true);
    await store.remove([key('../../etc/passwd')]);
  });
});

describe('the local store at start', () => {
  test('sweeps leftovers of a dead upload, not the upload another process is writing', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-store-'));
    try {
      const config = loadConfig({ dir }, {});
      const first = await createObjectStore(config);
      await first.close();
      const tmp = path.join(config.storage.localDir, '.tmp');
      const dead = path.join(tmp, 'dead-upload');
      const live = path.join(tmp, 'live-upload');
      await fs.writeFile(dead, 'half');
      await fs.writeFile(live, 'half');
      const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
      await fs.utimes(dead, twoHoursAgo, twoHoursAgo);
      const second = await createObjectStore(config);
      await second.close();
      expect((await fs.readdir(tmp)).sort()).toEqual(['live-upload']);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
