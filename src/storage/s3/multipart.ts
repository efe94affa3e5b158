/**
 * S3 multipart uploads, through the object store. A store with multipart writes of its own (S3)
 * takes each part straight into its multipart upload and joins them there; otherwise (the local
 * disk) each part is stored under a version of the upload's own (`<upload version>-part-<n>`) and
 * CompleteMultipartUpload streams the parts, in order, into one ordinary write. Either way the
 * row is then written as the caller, under RLS, as any upload's. The upload and its parts are rows in storage.s3_multipart_uploads(_parts),
 * read by the server: only the one who began an upload (or the service role) may touch it.
 */
import crypto from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { mimeAllowed, validMimeType } from '../names.js';
import { cacheControlOf, commitUpload, probeUpload, uploadFrom, type ObjectMetadata } from '../upload.js';
import { MissingObject, TooLarge, type ObjectKey } from '../../platform/store/index.js';
import { asCaller, type StorageContext, type StorageHttp } from '../context.js';
import { findObject } from '../serve.js';
import { StorageErrors } from '../errors.js';
import { payloadOf, smallBody, type S3Caller } from './auth.js';
import { bucketExists, sendXml } from './buckets.js';
import { S3Error, S3Errors } from './errors.js';
import { copySourceOf, userMetadataOf, type ObjectAddress } from './objects.js';
import { parseCompleteBody, xmlDocument } from './xml.js';

/** S3's rules: parts 1 to 10000, each but the last at least 5 MiB. */
const MAX_PART_NUMBER = 10_000;
const MIN_PART_BYTES = 5 * 1024 * 1024;

interface UploadRow {
  readonly id: string;
  readonly bucket_id: string;
  readonly key: string;
  readonly version: string;
  readonly owner_id: string | null;
  readonly content_type: string;
  readonly cache_control: string;
  readonly user_metadata: Record<string, unknown> | null;
  readonly store_handle: string | null;
  readonly created_at: Date;
}

interface PartRow {
  readonly part_number: number;
  readonly size: string;
  readonly etag: string;
  readonly version: string;
  readonly created_at: Date;
}

function subOf(caller: S3Caller): string | null {
  return typeof caller.claims.sub === 'string' ? caller.claims.sub : null;
}

/** The object's bytes once joined (also the key of the store's own multipart write). */
function objectKey(upload: UploadRow): ObjectKey {
  return { bucket: upload.bucket_id, name: upload.key, version: upload.version };
}

function partKey(upload: UploadRow, partNumber: number): ObjectKey {
  return { bucket: upload.bucket_id, name: upload.key, version: `${upload.version}-part-${partNumber}` };
}

async function findUpload(ctx: StorageContext, caller: S3Caller, at: ObjectAddress, id: string): Promise<UploadRow> {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw S3Errors.noSuchUpload();
  const row = (
    await ctx.services.db.query<UploadRow>(
      'select * from storage.s3_multipart_uploads where id = $1 and bucket_id = $2 and key = $3',
      [id, at.bucket, at.name],
    )
  ).rows[0];
  // Another user's upload is, to this caller, no upload at all.
  if (!row || (caller.claims.role !== 'service_role' && row.owner_id !== subOf(caller))) throw S3Errors.noSuchUpload();
  return row;
}

async function maxBytesOf(ctx: StorageContext, bucket: string, mime?: string): Promise<number> {
  const row = (
    await ctx.services.db.query<{ file_size_limit: string | null; allowed_mime_types: string[] | null }>(
      'select file_size_limit, allowed_mime_types from storage.buckets where id = $1',
      [bucket],
    )
  ).rows[0];
  if (!row) throw S3Errors.noSuchBucket();
  if (mime !== undefined) {
    validMimeType(mime);
    if (!mimeAllowed(mime, row.allowed_mime_types)) throw StorageErrors.invalidMimeType(mime);
  }
  return Math.min(
    ctx.services.config.storage.fileSizeLimit,
    row.file_size_limit === null ? Infinity : Number(row.file_size_limit),
  );
}

/** POST /<bucket>/<key>?uploads: allowed only if the caller could write the object (RLS, probed now). */
export async function createUpload(ctx: StorageContext, c: StorageHttp, caller: S3Caller, at: ObjectAddress) {
  await smallBody(c, caller, 0);
  const contentType = c.req.header('content-type') ?? 'application/octet-stream';
  await maxBytesOf(ctx, at.bucket, contentType);
  await probeUpload(ctx, { ...at, upsert: true, claims: caller.claims }, contentType);
  const id = crypto.randomBytes(24).toString('base64url');
  const version = crypto.randomUUID();
  const handle = ctx.store.parts
    ? ((await ctx.store.parts.begin({ bucket: at.bucket, name: at.name, version }, contentType)) ?? null)
    : null;
  await ctx.services.db.query(
    `insert into storage.s3_multipart_uploads (id, bucket_id, key, version, owner_id, content_type, cache_control, user_metadata, store_handle)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      id,
      at.bucket,
      at.name,
      version,
      subOf(caller),
      contentType,
      cacheControlOf(c.req.header('cache-control')),
      JSON.stringify(userMetadataOf(c)),
      handle,
    ],
  );
  return sendXml(c, xmlDocument('InitiateMultipartUploadResult', { Bucket: at.bucket, Key: at.name, UploadId: id }));
}

/** PUT /<bucket>/<key>?partNumber=&uploadId=: one part's bytes; a part sent again replaces it. */
export async function uploadPart(
  ctx: StorageContext,
  c: StorageHttp,
  caller: S3Caller,
  at: ObjectAddress,
  uploadId: string,
  partText: string,
) {
  const partNumber = partNumberOf(partText);
  const upload = await findUpload(ctx, caller, at, uploadId);
  const { etag } = await storePart(ctx, caller, at, upload, partNumber, payloadOf(c, caller));
  return c.body(null, 200, { etag });
}

function partNumberOf(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > MAX_PART_NUMBER)
    throw S3Errors.invalidArgument(`Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`);
  return Number(text);
}

/**
 * PUT /<bucket>/<key>?partNumber=&uploadId= with x-amz-copy-source (and x-amz-copy-source-range):
 * a part made of (a range of) an object the caller may read, as the AWS CLI copies large objects.
 */
export async function uploadPartCopy(
  ctx: StorageContext,
  c: StorageHttp,
  caller: S3Caller,
  at: ObjectAddress,
  uploadId: string,
  partText: string,
) {
  const partNumber = partNumberOf(partText);
  const upload = await findUpload(ctx, caller, at, uploadId);
  await smallBody(c, caller, 0);
  const from = copySourceOf(c.req.header('x-amz-copy-source') ?? '');
  const row = await asCaller(ctx, c, caller.claims, (tx) => findObject(tx, from.bucket, from.name), true);
  const size = row.metadata?.size ?? 0;
  const rangeText = c.req.header('x-amz-copy-source-range');
  let range: { start: number; end: number } | undefined;
  if (rangeText !== undefined) {
    const m = /^bytes=(\d{1,15})-(\d{1,15})$/.exec(rangeText);
    if (!m || Number(m[1]) > Number(m[2]) || Number(m[2]) >= size)
      throw S3Errors.invalidArgument(
        'The x-amz-copy-source-range value must be of the form bytes=first-last within the object',
      );
    range = { start: Number(m[1]), end: Number(m[2]) };
  }
  const length = range ? range.end - range.start + 1 : size;
  const body =
    length === 0
      ? Readable.from([])
      : await ctx.store
          .read({ bucket: row.bucket_id, name: row.name, version: row.version as string }, range)
          .catch((err: unknown) => {
            throw err instanceof MissingObject ? S3Errors.noSuchKey() : err;
          });
  const { etag } = await storePart(ctx, caller, at, upload, partNumber, { body, length });
  return sendXml(c, xmlDocument('CopyPartResult', { ETag: etag, LastModified: new Date() }));
}

/** One part's bytes into the store (its own multipart write, or a part object), and its row. */
async function storePart(
  ctx: StorageContext,
  caller: S3Caller,
  at: ObjectAddress,
  upload: UploadRow,
  partNumber: number,
  { body, length }: { body: Readable; length: number | undefined },
): Promise<{ etag: string }> {
  const maxBytes = await maxBytesOf(ctx, at.bucket);
  if (length !== undefined && length > maxBytes) throw StorageErrors.tooLarge();
  const key = upload.store_handle ? objectKey(upload) : partKey(upload, partNumber);
  let written;
  try {
    if (upload.store_handle && ctx.store.parts) {
      // The store's own part write wants its length ahead (S3's UploadPart does).
      if (length === undefined)
        throw new S3Error(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
      written = await ctx.store.parts.writePart(key, upload.store_handle, partNumber, body, { length, maxBytes });
    } else {
      const stored = await ctx.store.write(key, body, { maxBytes, contentType: 'application/octet-stream' });
      written = { ...stored, etag: `"${stored.md5}"` };
    }
  } catch (err) {
    body.destroy();
    if (err instanceof S3Error) throw err;
    if (err instanceof TooLarge) throw StorageErrors.tooLarge();
    if (err === body.errored) throw err;
    throw S3Errors.incompleteBody();
  }
  const etag = written.etag;
  const stored = await ctx.services.db
    .query(
      `insert into storage.s3_multipart_uploads_parts (upload_id, size, part_number, bucket_id, key, etag, owner_id, version)
       values ($1, $2, $3, $4, $5, $6, $7, $8)
       on conflict (upload_id, part_number) do update set size = excluded.size, etag = excluded.etag, created_at = now()`,
      [upload.id, written.size, partNumber, at.bucket, at.name, etag, subOf(caller), key.version],
    )
    .then(
      () => true,
      // The upload was completed or aborted meanwhile (its row is gone): the part goes too.
      () => false,
    );
  if (!stored) {
    if (!upload.store_handle) await ctx.store.remove([key]).catch(() => undefined);
    throw S3Errors.noSuchUpload();
  }
  await ctx.services.db.query(
    'update storage.s3_multipart_uploads set in_progress_size = (select coalesce(sum(size), 0) from storage.s3_multipart_uploads_parts where upload_id = $1) where id = $1',
    [upload.id],
  );
  return { etag };
}

async function partsOf(ctx: StorageContext, uploadId: string): Promise<PartRow[]> {
  return (
    await ctx.services.db.query<PartRow>(
      'select part_number, size::text as size, etag, version, created_at from storage.s3_multipart_uploads_parts where upload_id = $1 order by part_number',
      [uploadId],
    )
  ).rows;
}

/** POST /<bucket>/<key>?uploadId=: the listed parts, in order, become the object. */
export async function completeUpload(
  ctx: StorageContext,
  c: StorageHttp,
  caller: S3Caller,
  at: ObjectAddress,
  uploadId: string,
) {
  const upload = await findUpload(ctx, caller, at, uploadId);
  const listed = parseCompleteBody(await smallBody(c, caller));
  if (!listed || listed.length === 0) throw S3Errors.malformedXml();
  const stored = new Map((await partsOf(ctx, upload.id)).map((p) => [p.part_number, p]));
  const chosen: PartRow[] = [];
  let previous = 0;
  for (const [i, part] of listed.entries()) {
    if (part.partNumber <= previous) throw S3Errors.invalidPartOrder();
    previous = part.partNumber;
    const found = stored.get(part.partNumber);
    if (!found || found.etag.replace(/"/g, '') !== part.etag)
      throw S3Errors.invalidPart(
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
      );
    if (i < listed.length - 1 && Number(found.size) < MIN_PART_BYTES) throw S3Errors.entityTooSmall();
    chosen.push(found);
  }
  const total = chosen.reduce((sum, p) => sum + Number(p.size), 0);
  const target = { bucket: at.bucket, name: at.name, upsert: true, claims: caller.claims };
  if (upload.store_handle && ctx.store.parts) {
    if (total > (await maxBytesOf(ctx, at.bucket))) throw StorageErrors.tooLarge();
    await ctx.store.parts.complete(
      objectKey(upload),
      upload.store_handle,
      chosen.map((p) => ({ partNumber: p.part_number, etag: p.etag })),
    );
    // S3's ETag of a multipart object: the MD5 of the parts' MD5s, then "-<parts>".
    const md5s = Buffer.concat(chosen.map((p) => Buffer.from(p.etag.replace(/"/g, ''), 'hex')));
    const metadata: ObjectMetadata = {
      eTag: `"${crypto.createHash('md5').update(md5s).digest('hex')}-${chosen.length}"`,
      size: total,
      mimetype: upload.content_type,
      cacheControl: upload.cache_control,
      lastModified: new Date().toISOString(),
      contentLength: total,
      httpStatusCode: 200,
    };
    await ctx.services.db.query('delete from storage.s3_multipart_uploads where id = $1', [upload.id]);
    const done = await commitUpload(ctx, c, target, objectKey(upload), metadata, upload.user_metadata);
    return completed(c, at, done.metadata.eTag);
  }
  const joined = new PassThrough();
  void (async () => {
    try {
      for (const part of chosen) {
        const stream = await ctx.store.read(partKey(upload, part.part_number));
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          if (!joined.write(chunk)) await new Promise((resolve) => joined.once('drain', resolve));
        }
      }
      joined.end();
    } catch (err) {
      joined.destroy(err as Error);
    }
  })();
  const written = await uploadFrom(ctx, c, target, {
    body: joined,
    length: total,
    contentType: upload.content_type,
    cacheControl: upload.cache_control,
    userMetadata: upload.user_metadata,
  });
  await dropUpload(ctx, upload);
  return completed(c, at, written.metadata.eTag);
}

function completed(c: StorageHttp, at: ObjectAddress, etag: string): Response {
  return sendXml(
    c,
    xmlDocument('CompleteMultipartUploadResult', {
      Location: `/${at.bucket}/${at.name}`,
      Bucket: at.bucket,
      Key: at.name,
      ETag: etag,
    }),
  );
}

/** The upload's row (its parts' rows cascade), then its parts' bytes. */
async function dropUpload(ctx: StorageContext, upload: UploadRow): Promise<void> {
  const parts = await partsOf(ctx, upload.id);
  await ctx.services.db.query('delete from storage.s3_multipart_uploads where id = $1', [upload.id]);
  if (upload.store_handle && ctx.store.parts)
    await ctx.store.parts.abort(objectKey(upload), upload.store_handle).catch(() => undefined);
  else await ctx.store.remove(parts.map((p) => partKey(upload, p.part_number))).catch(() => undefined);
}

/** DELETE /<bucket>/<key>?uploadId=. */
export async function abortUpload(
  ctx: StorageContext,
  c: StorageHttp,
  caller: S3Caller,
  at: ObjectAddress,
  uploadId: string,
) {
  await dropUpload(ctx, await findUpload(ctx, caller, at, uploadId));
  return c.body(null, 204);
}

/** GET /<bucket>/<key>?uploadId=: the parts so far. */
export async function listParts(
  ctx: StorageContext,
  c: StorageHttp,
  caller: S3Caller,
  at: ObjectAddress,
  uploadId: string,
) {
  const upload = await findUpload(ctx, caller, at, uploadId);
  const query = new URL(c.req.url).searchParams;
  const max = boundedInt(query.get('max-parts'), 'max-parts', 1000);
  const marker = boundedInt(query.get('part-number-marker'), 'part-number-marker', 0);
  const parts = (await partsOf(ctx, upload.id)).filter((p) => p.part_number > marker);
  const page = parts.slice(0, max);
  return sendXml(
    c,
    xmlDocument('ListPartsResult', {
      Bucket: at.bucket,
      Key: at.name,
      UploadId: upload.id,
      PartNumberMarker: marker,
      NextPartNumberMarker: page.at(-1)?.part_number ?? marker,
      MaxParts: max,
      IsTruncated: parts.length > max,
      Part: page.map((p) => ({
        PartNumber: p.part_number,
        LastModified: p.created_at,
        ETag: p.etag,
        Size: Number(p.size),
      })),
      StorageClass: 'STANDARD',
    }),
  );
}

/** GET /<bucket>?uploads: uploads in progress (the caller's own, or all for the service role). */
export async function listUploads(ctx: StorageContext, c: StorageHttp, caller: S3Caller, bucket: string) {
  await bucketExists(ctx, bucket);
  const query = new URL(c.req.url).searchParams;
  const prefix = query.get('prefix') ?? '';
  if (prefix.includes('\u0000') || prefix.length > 1024) throw S3Errors.invalidArgument('prefix is invalid');
  const max = boundedInt(query.get('max-uploads'), 'max-uploads', 1000);
  const all = caller.claims.role === 'service_role';
  const rows = (
    await ctx.services.db.query<UploadRow>(
      `select * from storage.s3_multipart_uploads
       where bucket_id = $1 and starts_with(key, $2) and ($3 or owner_id = $4)
       order by key collate "C", created_at limit $5`,
      [bucket, prefix, all, subOf(caller), max + 1],
    )
  ).rows;
  return sendXml(
    c,
    xmlDocument('ListMultipartUploadsResult', {
      Bucket: bucket,
      KeyMarker: '',
      UploadIdMarker: '',
      Prefix: prefix,
      MaxUploads: max,
      IsTruncated: rows.length > max,
      Upload: rows.slice(0, max).map((r) => ({
        Key: r.key,
        UploadId: r.id,
        Initiated: r.created_at,
        StorageClass: 'STANDARD',
      })),
    }),
  );
}

function boundedInt(text: string | null, name: string, fallback: number): number {
  if (text === null) return fallback;
  if (!/^\d{1,6}$/.test(text)) throw S3Errors.invalidArgument(`${name} must be a whole number`);
  return Math.min(Number(text), 1000) || fallback;
}
