import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openStorageSource, parseS3Url, type StorageSource } from '../../src/import/pg-dump-storage.js';

let root: string;
let source: StorageSource;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-pgdump-files-'));
  const put = async (rel: string, body: string) => {
    await fs.mkdir(path.dirname(path.join(root, 'files', rel)), { recursive: true });
    await fs.writeFile(path.join(root, 'files', rel), body);
  };
  await put('avatars/a/face.png', 'download layout');
  await put('avatars/b/cv.txt/v1', 'file backend, no tenant');
  await put('stub/docs/c/deep/name.txt/v2', 'file backend under a tenant');
  await fs.writeFile(path.join(root, 'outside.txt'), 'must not be read');
  source = await openStorageSource({ dir: path.join(root, 'files') });
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe('a folder of object files', () => {
  test.each([
    ['avatars', 'a/face.png', null, 'download layout'],
    ['avatars', 'a/face.png', 'v9', 'download layout'],
    ['avatars', 'b/cv.txt', 'v1', 'file backend, no tenant'],
    ['docs', 'c/deep/name.txt', 'v2', 'file backend under a tenant'],
  ])('%s/%s (version %s)', async (bucket, name, version, body) => {
    const stream = await source.open(bucket, name, version);
    expect(stream && (await text(stream))).toBe(body);
  });

  test.each([
    ['avatars', 'b/cv.txt', null],
    ['avatars', 'b/cv.txt', 'v2'],
    ['avatars', '../../outside.txt', null],
    ['..', 'outside.txt', null],
    ['docs', 'c/deep', 'name.txt'],
  ])('%s/%s (version %s) is not found', async (bucket, name, version) => {
    expect(await source.open(bucket, name, version)).toBeUndefined();
  });

  test('a path that is not a folder is refused', async () => {
    await expect(openStorageSource({ dir: path.join(root, 'outside.txt') })).rejects.toThrow(/not a folder/);
  });
});

test.each([
  ['s3://bucket', { bucket: 'bucket', prefix: '' }],
  ['s3://bucket/a/b/', { bucket: 'bucket', prefix: 'a/b' }],
])('parseS3Url(%s)', (url, parsed) => {
  expect(parseS3Url(url)).toEqual(parsed);
});

test('parseS3Url refuses what is not an s3:// URL', () => {
  expect(() => parseS3Url('https://bucket/x')).toThrow(/must look like s3:\/\/bucket\/prefix/);
});
