/**
 * S3's object operations over the storage API's own object code: PutObject is the storage upload
 * (RLS through asCaller, the row in storage.objects, the bytes through the store), GetObject and
 * HeadObject its download, CopyObject its copy; deletes remove the bytes after the commit.
 */
import { asCaller, type StorageContext, type StorageHttp } from '../context.js';
import { copyObjectAs } from '../objects.js';
import { parseObjectPath } from '../names.js';
import { findObject, parseRange, sendObject } from '../serve.js';
import { cacheControlOf, uploadFrom } from '../upload.js';
import type { ObjectKey } from '../../platform/store/index.js';
import { payloadOf, smallBody, type S3Caller } from './auth.js';
import { sendXml } from './buckets.js';
import { S3Error, S3Errors } from './errors.js';
import { parseDeleteBody, xmlDocument } from './xml.js';

export interface ObjectAddress {
  readonly bucket: string;
  readonly name: string;
}

/** x-amz-meta-* headers as the object's user metadata (S3's names, lower-cased, without the prefix). */
export function userMetadataOf(c: StorageHttp): Record<string, string> | null {
  const found: Record<string, string> = {};
  let size = 0;
  for (const [name, value] of Object.entries(c.req.header())) {
    if (!name.startsWith('x-amz-meta-')) continue;
    size += name.length + value.length;
    if (value.includes('\u0000')) throw S3Errors.invalidArgument(`${name} must not hold NUL`);
    found[name.slice('x-amz-meta-'.length)] = value;
  }
  // S3's limit on user metadata: 2 KB.
  if (size > 2048) throw S3Errors.invalidArgument('Your metadata headers exceed the maximum allowed metadata size');
  return Object.keys(found).length === 0 ? null : found;
}

export function metadataHeaders(metadata: Record<string, unknown> | null): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata ?? {}))
    if (typeof v === 'string' && /^[a-z0-9-]{1,128}$/.test(k) && !/[\r\n]/.test(v)) headers[`x-amz-meta-${k}`] = v;
  return headers;
}

export async function putObject(ctx: StorageContext, c: StorageHttp, caller: S3Caller, at: ObjectAddress) {
  const { body, length } = payloadOf(c, caller);
  const written = await uploadFrom(
    ctx,
    c,
    { bucket: at.bucket, name: at.name, upsert: true, claims: caller.claims },
    {
      body,
      length,
      contentType: c.req.header('content-type') ?? 'application/octet-stream',
      cacheControl: cacheControlOf(c.req.header('cache-control')),
      userMetadata: userMetadataOf(c),
    },
  );
  return c.body(null, 200, { etag: written.metadata.eTag });
}

export async function getObject(ctx: StorageContext, c: StorageHttp, caller: S3Caller, at: ObjectAddress) {
  const row = await asCaller(ctx, c, caller.claims, (tx) => findObject(tx, at.bucket, at.name), true);
  const range = c.req.header('range');
  const size = row.metadata?.size ?? 0;
  // S3's own answer to a range past the end (the storage API's is JSON).
  if (range !== undefined && parseRange(range, size) === 'unsatisfiable')
    throw new S3Error(416, 'InvalidRange', 'The requested range is not satisfiable', {
      'content-range': `bytes */${size}`,
    });
  return sendObject(ctx, c, row, metadataHeaders(row.user_metadata));
}

export async function deleteObject(ctx: StorageContext, c: StorageHttp, caller: S3Caller, at: ObjectAddress) {
  const removed = await deleteRows(ctx, c, caller, at.bucket, [at.name]);
  await ctx.store.remove(removed);
  // S3 answers 204 whether or not the key was there.
  return c.body(null, 204);
}

async function deleteRows(
  ctx: StorageContext,
  c: StorageHttp,
  caller: S3Caller,
  bucket: string,
  names: string[],
): Promise<ObjectKey[]> {
  const rows = await asCaller(
    ctx,
    c,
    caller.claims,
    async (tx) =>
      (
        await tx.query<{ name: string; version: string | null }>(
          'delete from storage.objects where bucket_id = $1 and name = any($2::text[]) returning name, version',
          [bucket, names],
        )
      ).rows,
  );
  return rows.filter((r) => r.version).map((r) => ({ bucket, name: r.name, version: r.version as string }));
}

/** POST /<bucket>?delete: up to 1000 keys in one transaction; what the caller may not delete stays. */
export async function deleteObjects(ctx: StorageContext, c: StorageHttp, caller: S3Caller, bucket: string) {
  const parsed = parseDeleteBody(await smallBody(c, caller));
  if (!parsed) throw S3Errors.malformedXml();
  if (parsed.keys.length === 0 || parsed.keys.length > 1000) throw S3Errors.malformedXml();
  for (const key of parsed.keys)
    if (key === '' || key.includes('\u0000') || Buffer.byteLength(key) > 1024)
      throw S3Errors.invalidArgument('Each Key must be 1 to 1024 bytes, without NUL');
  const removed = await deleteRows(ctx, c, caller, bucket, parsed.keys);
  await ctx.store.remove(removed);
  return sendXml(
    c,
    xmlDocument('DeleteResult', {
      Deleted: parsed.quiet ? [] : parsed.keys.map((Key) => ({ Key })),
    }),
  );
}

/** x-amz-copy-source: `/bucket/key` or `bucket/key`, percent-encoded (a `?versionId=` is ignored). */
export function copySourceOf(source: string): ObjectAddress {
  if (source === '' || source.length > 4096) throw S3Errors.invalidArgument('x-amz-copy-source must name bucket/key');
  const [path = ''] = source.split('?');
  return parseObjectPath(path.replace(/^\//, ''));
}

/** PUT with x-amz-copy-source. */
export async function copyObject(ctx: StorageContext, c: StorageHttp, caller: S3Caller, to: ObjectAddress) {
  const from = copySourceOf(c.req.header('x-amz-copy-source') ?? '');
  const replace = c.req.header('x-amz-metadata-directive') === 'REPLACE';
  await smallBody(c, caller, 0);
  const { metadata } = await copyObjectAs(ctx, c, caller.claims, from, to, { copyMetadata: !replace, upsert: true });
  return sendXml(
    c,
    xmlDocument('CopyObjectResult', {
      ETag: metadata?.eTag ?? '""',
      LastModified: new Date(metadata?.lastModified ?? Date.now()),
    }),
  );
}
