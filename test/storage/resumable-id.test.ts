import { describe, expect, test } from 'vitest';
import { ApiError } from '../../src/errors.js';
import { decodeUploadId, encodeUploadId, parseResumableMetadata } from '../../src/storage/resumable-id.js';

const version = '0b6a2f8e-3c1d-4e5f-8a9b-0c1d2e3f4a5b';
const b64 = (s: string) => Buffer.from(s).toString('base64url');

describe('upload URL ids', () => {
  test('round-trip bucket, a name with folders, and the version', () => {
    const target = { bucket: 'videos', name: 'a/b/c.mp4', version };
    expect(decodeUploadId(encodeUploadId(target))).toEqual(target);
  });
  test.each([
    ['not base64url', '@@@'],
    ['no version', b64('videos/a.mp4')],
    ['a version that is no UUID', b64('videos/a.mp4/../../etc')],
    ['no name', b64(`videos//${version}`)],
    ['a dot-dot name', b64(`videos/../x/${version}`)],
    ['a NUL in the name', b64(`videos/a\u0000b/${version}`)],
    ['a bad bucket name', b64(`vid\u0000eos/a/${version}`)],
    ['empty', ''],
  ])('names no upload: %s', (_why, segment) => expect(decodeUploadId(segment)).toBeUndefined());
});

describe('Upload-Metadata', () => {
  test('bucketName, objectName, contentType, cacheControl and metadata', () => {
    expect(
      parseResumableMetadata({
        bucketName: 'videos',
        objectName: 'me/a.mp4',
        contentType: 'video/mp4',
        cacheControl: '3600',
        metadata: '{"a":1}',
      }),
    ).toEqual({
      bucket: 'videos',
      name: 'me/a.mp4',
      contentType: 'video/mp4',
      cacheControl: 'max-age=3600',
      userMetadata: '{"a":1}',
    });
  });
  test.each([
    ['no cacheControl', undefined, 'no-cache'],
    ['a cacheControl that is no number', 'public', 'no-cache'],
    ['a number', '60', 'max-age=60'],
  ])('cacheControl: %s', (_why, cacheControl, expected) =>
    expect(
      parseResumableMetadata({ bucketName: 'b', objectName: 'o', ...(cacheControl !== undefined && { cacheControl }) })
        .cacheControl,
    ).toBe(expected),
  );
  test.each([
    ['no metadata', undefined, 'Upload-Metadata with bucketName and objectName is required'],
    ['no bucketName', { objectName: 'o' }, 'Missing Required Parameter bucketName'],
    ['no objectName', { bucketName: 'b' }, 'Missing Required Parameter objectName'],
    ['a key-only objectName', { bucketName: 'b', objectName: null }, 'Missing Required Parameter objectName'],
    ['a NUL in objectName', { bucketName: 'b', objectName: 'a\u0000b' }, 'Invalid key: a?b'],
    ['a bad bucket', { bucketName: 'a/b', objectName: 'o' }, 'Bucket name invalid'],
  ])('refuses %s', (_why, metadata, message) => {
    let error: unknown;
    try {
      parseResumableMetadata(metadata);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message).toBe(message);
  });
});
