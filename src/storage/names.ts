/**
 * Pure checks of what a request names: bucket ids, object keys (the path after the bucket), MIME
 * types and size limits. Object bytes are stored under hashes, so these rules are about giving
 * Supabase's answers to bad names, not about keeping the disk safe.
 */
import { StorageErrors } from './errors.js';

/** storage-api's bucket name rule (S3's safe characters), at most 100 characters. */
const BUCKET_ID = /^[A-Za-z0-9_!\-.*'() &$@=;:+,?]{1,100}$/;
/** S3's limit on a key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

export function validBucketId(id: unknown): string {
  if (typeof id !== 'string' || !BUCKET_ID.test(id) || id === '.' || id === '..')
    throw StorageErrors.invalidBucketName();
  return id;
}

/** Checks an object name given in a JSON body (move, copy, remove, sign): `folder/file.png`. */
export function validObjectName(name: unknown): string {
  if (typeof name !== 'string') throw StorageErrors.invalidKey(String(name));
  if (name === '' || Buffer.byteLength(name) > MAX_KEY_BYTES || /[\u0000-\u001f\u007f\\]/.test(name))
    throw StorageErrors.invalidKey(name);
  for (const segment of name.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') throw StorageErrors.invalidKey(name);
  }
  return name;
}

/**
 * Splits the raw (still percent-encoded) path after a route prefix into bucket and object name.
 * Each segment is decoded on its own: a segment that decodes to a separator (`%2F`, `%5C`) or to
 * `.`/`..` is refused, so an encoded name cannot mean another folder.
 */
export function parseObjectPath(rawPath: string): { bucket: string; name: string } {
  const [rawBucket = '', ...rawSegments] = rawPath.split('/');
  const bucket = validBucketId(decodeSegment(rawBucket, rawPath));
  const segments = rawSegments.map((s) => decodeSegment(s, rawPath));
  for (const segment of segments) {
    if (/[/\\]/.test(segment)) throw StorageErrors.invalidKey(segments.join('/'));
  }
  return { bucket, name: validObjectName(segments.join('/')) };
}

/** A bucket id still percent-encoded in the raw path (`POST /object/sign/<bucket>`); a malformed escape is a bad name. */
export function parseBucketSegment(raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw StorageErrors.invalidBucketName();
  }
  return validBucketId(decoded);
}

function decodeSegment(segment: string, whole: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw StorageErrors.invalidKey(whole);
  }
}

/** Whether `mime` is allowed by a bucket's list (`image/png`, `image/*`); no list allows all. */
export function mimeAllowed(mime: string, allowed: readonly string[] | null): boolean {
  if (!allowed || allowed.length === 0) return true;
  const [type = '', subtype = ''] = mime.split(';')[0]!.trim().toLowerCase().split('/');
  return allowed.some((rule) => {
    const [ruleType = '', ruleSub = ''] = rule.trim().toLowerCase().split('/');
    return (ruleType === '*' || ruleType === type) && (ruleSub === '*' || ruleSub === subtype);
  });
}

/** A MIME type as a client may send it; anything that does not look like one is refused. */
export function validMimeType(mime: string): string {
  if (!/^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/.test(mime) || mime.length > 255 || /[\u0000-\u001f\u007f]/.test(mime))
    throw StorageErrors.invalidMimeType(mime);
  return mime;
}

// Decimal, as storage-api reads them: "20MB" is 20,000,000 bytes, not 20 MiB.
const UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9 };

/** A bucket's file_size_limit: bytes as a number, or text like "20MB" / "30KB" / "3B" (storage-api's forms). */
export function parseFileSizeLimit(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value === 0 ? null : value;
  const match = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(value) : null;
  if (!match) throw StorageErrors.invalidRequest('Invalid file size format, hint: use 20GB / 20MB / 30KB / 3B');
  // storage-api keeps three significant digits of the number ("1.2345MB" is 1,230,000 bytes).
  const bytes = Math.round(Number(Number(match[1]).toPrecision(3)) * UNITS[(match[2] ?? 'b').toLowerCase()]!);
  // storage.buckets.file_size_limit is a bigint: a larger limit would be PostgreSQL's error (a 500).
  if (!Number.isSafeInteger(bytes)) throw StorageErrors.invalidRequest('file_size_limit is too large');
  return bytes === 0 ? null : bytes;
}
