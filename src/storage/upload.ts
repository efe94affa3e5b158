/**
 * Uploads: the body streams to the store under a fresh version key, then one transaction (as the
 * caller, under RLS) points the object's row at it. Whatever fails (RLS, duplicate name, size
 * bound, a client that goes away), the new bytes are removed and no row changes; replaced bytes
 * are removed after the commit. So there is never a row without bytes nor a version without a row
 * (short of the process dying between two steps; see docs/storage.md).
 */
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import busboy from 'busboy';
import type { Claims, Tx } from '../db/index.js';
import { jsonDepthExceeds, nulAt, nulMessage } from '../platform/body.js';
import { headerOf } from '../platform/http.js';
import { asCaller, nodeRequest, ownerOf, type StorageContext, type StorageHttp } from './context.js';
import { StorageErrors } from './errors.js';
import { mimeAllowed, validMimeType } from './names.js';
import { TooLarge, type ObjectKey, type WriteResult } from '../platform/store/index.js';
import { isJsonObject, parseJson, stringifyJson } from '../platform/json.js';

export interface UploadTarget {
  readonly bucket: string;
  readonly name: string;
  readonly upsert: boolean;
  /** The claims the row is written under (the caller, or the signer of an upload URL). */
  readonly claims: Claims;
}

export interface UploadSource {
  readonly body: Readable;
  /** Whether the body itself failed (client gone, truncated form): watched from its creation. */
  readonly failed: () => boolean;
  readonly contentType: string;
  readonly cacheControl: string;
  readonly userMetadata: Record<string, unknown> | null;
}

export interface BucketLimits {
  readonly id: string;
  readonly file_size_limit: string | null;
  readonly allowed_mime_types: string[] | null;
}

/** Stored in storage.objects.metadata, with the keys Supabase uses. */
export interface ObjectMetadata {
  eTag: string;
  size: number;
  mimetype: string;
  cacheControl: string;
  lastModified: string;
  contentLength: number;
  httpStatusCode: number;
}

/** Bodies up to this size are stored before the permission is known (see upload()). */
const PROBE_ABOVE_BYTES = 256 * 1024;

/** Thrown inside a transaction to roll it back on purpose (the permission test before an upload). */
class RollBack extends Error {}

/** A body given by another protocol (the S3 endpoint's PutObject, a completed multipart upload). */
export interface GivenBody {
  readonly body: Readable;
  /** The body's length when known ahead: refused at once when over the limit. */
  readonly length: number | undefined;
  readonly contentType: string;
  readonly cacheControl: string;
  readonly userMetadata: Record<string, unknown> | null;
}

export async function upload(
  ctx: StorageContext,
  c: StorageHttp,
  target: UploadTarget,
): Promise<{ Id: string; Key: string }> {
  const { Id, Key } = await uploadFrom(ctx, c, target);
  return { Id, Key };
}

/** An upload from the request (raw or a form), or from `given`; with the metadata it stored. */
export async function uploadFrom(
  ctx: StorageContext,
  c: StorageHttp,
  target: UploadTarget,
  given?: GivenBody,
): Promise<Committed> {
  const bucket = await bucketLimits(ctx, target.bucket);
  const maxBytes = maxBytesOf(ctx, bucket);
  const request = nodeRequest(c);
  const multipart = !given && (headerOf(c, 'content-type') ?? '').toLowerCase().startsWith('multipart/form-data');
  const declared = given ? given.length?.toString() : headerOf(c, 'content-length');
  const declaredType = given ? given.contentType : (headerOf(c, 'content-type') ?? 'application/octet-stream');
  // A declared length over the bound is refused before a byte is read (a form carries some framing).
  if (declared !== undefined && Number(declared) > maxBytes + (multipart ? 64 * 1024 : 0))
    throw StorageErrors.tooLarge();
  if (!multipart) checkMime(declaredType, bucket);

  // Refused by RLS or taken by another object: answered before a large body is read. A small one
  // is cheaper to store and remove on refusal than to test for (a transaction more per upload).
  if (multipart || declared === undefined || Number(declared) > PROBE_ABOVE_BYTES)
    await probeUpload(ctx, target, given ? given.contentType : (headerOf(c, 'content-type') ?? ''));

  const source: UploadSource = given
    ? { ...given, failed: watchFailure(given.body) }
    : multipart
      ? await formFile(request)
      : rawBody(request, c);
  checkMime(source.contentType, bucket);
  return storeAndCommit(ctx, c, target, source, maxBytes, given !== undefined);
}

/** A bucket's id and limits, read as the server (storage-api does too: RLS decides on the row). */
export async function bucketLimits(ctx: StorageContext, bucketId: string): Promise<BucketLimits> {
  const bucket = (
    await ctx.services.db.query<BucketLimits>(
      'select id, file_size_limit, allowed_mime_types from storage.buckets where id = $1',
      [bucketId],
    )
  ).rows[0];
  if (!bucket) throw StorageErrors.bucketNotFound();
  return bucket;
}

/** The most bytes an object of `bucket` may have: its own limit, never above the global one. */
export function maxBytesOf(ctx: StorageContext, bucket: BucketLimits): number {
  return Math.min(
    ctx.services.config.storage.fileSizeLimit,
    bucket.file_size_limit === null ? Infinity : Number(bucket.file_size_limit),
  );
}

/** What a committed upload answers with, and the metadata its row holds. */
export interface Committed {
  readonly Id: string;
  readonly Key: string;
  readonly metadata: ObjectMetadata;
}

/**
 * Streams `source` to the store under a fresh version key, then writes the row as the caller; on
 * any failure the new bytes are removed and no row changes (resumable uploads finish here too).
 * A body given by another protocol may refuse itself (a chunk signature that does not match):
 * with `given`, that refusal is the answer as it is.
 */
export async function storeAndCommit(
  ctx: StorageContext,
  c: StorageHttp,
  target: UploadTarget,
  source: UploadSource,
  maxBytes: number,
  given = false,
): Promise<Committed> {
  const version = crypto.randomUUID();
  const key: ObjectKey = { bucket: target.bucket, name: target.name, version };
  let written;
  // An error of the body itself (a client gone, a truncated form) is the client's; the store's own
  // failures (disk full, S3 unreachable) are ours.
  try {
    written = await ctx.store.write(key, source.body, { maxBytes, contentType: source.contentType });
  } catch (err) {
    source.body.destroy();
    if (err instanceof TooLarge) throw StorageErrors.tooLarge();
    if (given && err === source.body.errored) throw err;
    if (source.failed() || isClientGone(err))
      throw StorageErrors.invalidRequest('The upload ended before all its bytes arrived');
    throw err;
  }
  return commitStored(ctx, c, target, { key, written, ...source });
}

/** Bytes already in the store under `key`, and what their row will say about them. */
export interface StoredBytes {
  readonly key: ObjectKey;
  readonly written: WriteResult;
  readonly contentType: string;
  readonly cacheControl: string;
  readonly userMetadata: Record<string, unknown> | null;
}

/** The row of stored bytes, written as the caller (see commitUpload). */
export async function commitStored(
  ctx: StorageContext,
  c: StorageHttp,
  target: UploadTarget,
  stored: StoredBytes,
): Promise<Committed> {
  const { key, written } = stored;
  const metadata: ObjectMetadata = {
    eTag: `"${written.md5}"`,
    size: written.size,
    mimetype: stored.contentType,
    cacheControl: stored.cacheControl,
    lastModified: new Date().toISOString(),
    contentLength: written.size,
    httpStatusCode: 200,
  };
  return commitUpload(ctx, c, target, key, metadata, stored.userMetadata);
}

/**
 * Points the object's row at bytes already stored under `key` (written as the caller, under RLS:
 * insert, or with upsert replace); the version it replaced is removed after the commit, the new
 * bytes on any refusal.
 */
export async function commitUpload(
  ctx: StorageContext,
  c: StorageHttp,
  target: UploadTarget,
  key: ObjectKey,
  metadata: ObjectMetadata,
  userMetadata: Record<string, unknown> | null,
): Promise<Committed> {
  const delay = ctx.services.config.storage.testCommitDelayMs;
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  try {
    const { id, replaced } = await asCaller(ctx, c, target.claims, (tx) =>
      writeRow(tx, rowValues(target, metadata, userMetadata, key.version), target.upsert),
    );
    if (replaced && replaced !== key.version)
      await ctx.store
        .remove([{ ...key, version: replaced }])
        .catch((err: unknown) => c.get('log').warn({ err }, 'removing replaced object bytes failed'));
    return { Id: id, Key: `${target.bucket}/${target.name}`, metadata };
  } catch (err) {
    await ctx.store.remove([key]).catch(() => undefined);
    throw err;
  }
}

/**
 * Whether the row could be written, tested in a transaction that is rolled back (storage-api does
 * the same): RLS refusals and taken names are answered before any byte is stored.
 */
export async function probeUpload(ctx: StorageContext, target: UploadTarget, mimetype: string): Promise<void> {
  const probe = rowValues(
    target,
    { eTag: '', size: 0, mimetype, cacheControl: '', lastModified: '', contentLength: 0, httpStatusCode: 200 },
    null,
    'probe',
  );
  // Rolled back: nothing to fence.
  await asCaller(ctx, undefined, target.claims, async (tx) => {
    await writeRow(tx, probe, target.upsert);
    throw new RollBack();
  }).catch((err: unknown) => {
    if (!(err instanceof RollBack)) throw err;
  });
}

function rowValues(
  target: UploadTarget,
  metadata: ObjectMetadata,
  userMetadata: Record<string, unknown> | null,
  version: string,
): unknown[] {
  const sub = typeof target.claims.sub === 'string' ? target.claims.sub : null;
  return [
    target.bucket,
    target.name,
    ownerOf(target.claims),
    sub,
    JSON.stringify(metadata),
    // No metadata sent is stored as {}, as storage-api stores it (info() then shows `metadata: {}`).
    stringifyJson(userMetadata ?? {}),
    version,
  ];
}

/**
 * Inserts (or, with upsert, replaces) the row; returns the version it replaced. Writes of one name
 * (uploads, moves and copies to it) are serialised by a transaction-scoped advisory lock, so an
 * upsert always sees the version it replaces, even one a concurrent plain upload just committed.
 */
async function writeRow(
  tx: Tx,
  values: unknown[],
  upsert: boolean,
): Promise<{ id: string; replaced: string | undefined }> {
  await tx.query("select pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 6))", [values[0], values[1]]);
  const prior = upsert
    ? (
        await tx.query<{ version: string | null }>(
          'select version from storage.objects where bucket_id = $1 and name = $2 for update',
          [values[0], values[1]],
        )
      ).rows[0]
    : undefined;
  const row = (
    await tx.query<{ id: string }>(
      `insert into storage.objects (bucket_id, name, owner, owner_id, metadata, user_metadata, version) values ($1, $2, $3, $4, $5, $6, $7)
       ${upsert ? 'on conflict (bucket_id, name) do update set owner = excluded.owner, owner_id = excluded.owner_id, metadata = excluded.metadata, user_metadata = excluded.user_metadata, version = excluded.version, updated_at = now(), last_accessed_at = now()' : ''}
       returning id`,
      values,
    )
  ).rows[0] as { id: string };
  return { id: row.id, replaced: prior?.version ?? undefined };
}

export function checkMime(mime: string, bucket: BucketLimits): void {
  validMimeType(mime);
  if (!mimeAllowed(mime, bucket.allowed_mime_types)) throw StorageErrors.invalidMimeType(mime);
}

/** A raw body: storage-js sends Buffers, strings and streams this way, with the options as headers. */
function rawBody(request: IncomingMessage, c: StorageHttp): UploadSource {
  return {
    body: request,
    failed: watchFailure(request),
    contentType: headerOf(c, 'content-type') ?? 'application/octet-stream',
    cacheControl: cacheControlOf(headerOf(c, 'cache-control')),
    userMetadata: userMetadataOf(headerOf(c, 'x-metadata'), true),
  };
}

/** A multipart form (Blob/File bodies): the `cacheControl` and `metadata` fields, then the file. */
function formFile(request: IncomingMessage): Promise<UploadSource> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: request.headers, limits: { files: 1, fields: 20, fieldSize: 64 * 1024, parts: 30 } });
    } catch {
      reject(StorageErrors.invalidRequest('The multipart body has no boundary'));
      return;
    }
    const fields: Record<string, string> = {};
    let settled = false;
    parser.on('field', (name, value) => (fields[name] = value));
    parser.on('file', (_name, stream, info) => {
      settled = true;
      // The file stream is handed on through a PassThrough so a parser error (a truncated form)
      // reaches the store as an error of the body, not as a silently short file.
      const body = new PassThrough();
      const failed = watchFailure(body);
      stream.pipe(body);
      stream.on('error', (err: Error) => body.destroy(err));
      parser.on('error', (err: Error) => body.destroy(err));
      request.on('aborted', () => body.destroy(new Error('aborted')));
      try {
        resolve({
          body,
          failed,
          contentType: info.mimeType || 'application/octet-stream',
          cacheControl: cacheControlOf(
            fields.cacheControl === undefined ? undefined : `max-age=${fields.cacheControl}`,
          ),
          userMetadata: userMetadataOf(fields.metadata, false),
        });
      } catch (err) {
        stream.resume();
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    parser.on('close', () => settled || reject(StorageErrors.noContent()));
    parser.on(
      'error',
      (err: Error) =>
        settled || reject(StorageErrors.invalidRequest(`The multipart body is malformed: ${err.message}`)),
    );
    pipeline(request, parser, () => undefined);
  });
}

/** Supabase stores what the client sent (`max-age=3600`), and `no-cache` when it sent nothing. */
export function cacheControlOf(value: string | undefined): string {
  if (!value) return 'no-cache';
  if (value.length > 256 || /[\u0000-\u001f\u007f]/.test(value))
    throw StorageErrors.invalidRequest('Invalid Cache-Control');
  return value;
}

export function userMetadataOf(value: string | undefined, base64: boolean): Record<string, unknown> | null {
  if (value === undefined || value === '') return null;
  let metadata: Record<string, unknown> | undefined;
  try {
    // Numbers as written (platform/json.ts): user metadata is stored as sent.
    const parsed: unknown = parseJson(base64 ? Buffer.from(value, 'base64').toString('utf8') : value);
    if (isJsonObject(parsed)) metadata = parsed;
  } catch {
    // answered below
  }
  if (metadata) {
    // Stored as jsonb, which refuses \u0000 (22P05) and whose parser refuses deep nesting.
    const nul = nulAt(metadata, 'metadata');
    if (nul !== undefined) throw StorageErrors.invalidRequest(nulMessage(nul));
    if (jsonDepthExceeds(metadata)) throw StorageErrors.invalidRequest('metadata is nested too deeply');
    return metadata;
  }
  throw StorageErrors.invalidRequest('metadata must be a JSON object');
}

export function watchFailure(stream: Readable): () => boolean {
  let failed = false;
  stream.once('error', () => (failed = true));
  stream.once('aborted', () => (failed = true));
  return () => failed || stream.errored !== null;
}

function isClientGone(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (err as Error).message === 'aborted';
}
