/**
 * Resumable uploads: TUS 1.0 at /storage/v1/upload/resumable, as storage-api serves it, through
 * @tus/server (creation, creation-with-upload, termination, expiration). The bytes are staged in
 * the resumable store (platform/store/resumable.ts); every POST, PATCH and DELETE is first tested
 * against RLS as the caller (a rolled-back insert, as plain uploads do), and the row is written
 * only when the last byte arrived, in one transaction under the finishing request's claims, by the
 * same code as a plain upload (storeAndCommit). Errors are answered as storage-api answers them on
 * this route: the error's own status and its message as plain text.
 */
import crypto from 'node:crypto';
import { Server, type Upload } from '@tus/server';
import type { Claims } from '../db/index.js';
import { ApiError } from '../errors.js';
import { headerOf } from '../platform/http.js';
import { TooLarge } from '../platform/store/index.js';
import { callerClaims, type StorageContext, type StorageHttp } from './context.js';
import { StorageErrors } from './errors.js';
import { createLeaseLocker } from './resumable-lock.js';
import { verifyToken } from './signed.js';
import { decodeUploadId, encodeUploadId, parseResumableMetadata, type ResumableTarget } from './resumable-id.js';
import {
  bucketLimits,
  checkMime,
  commitStored,
  maxBytesOf,
  probeUpload,
  storeAndCommit,
  userMetadataOf,
  type UploadTarget,
} from './upload.js';

export const RESUMABLE_PATH = '/storage/v1/upload/resumable';

/** What one request's hooks share: @tus/server hands each hook only the request. */
interface Call {
  readonly c: StorageHttp;
  claims: Claims;
  upsert: boolean;
  /** On /upload/resumable/sign: the x-signature token (createSignedUploadUrl's), checked per request. */
  readonly signature?: string;
  target?: ResumableTarget;
  /** The id of the upload this request completed, removed from the resumable store after the answer. */
  finished?: string;
}

export function resumableUploads(ctx: StorageContext): (c: StorageHttp) => Promise<Response> {
  const { resumable, config } = ctx.services;
  const calls = new WeakMap<Request, Call>();
  const callOf = (req: Request): Call => {
    const call = calls.get(req);
    if (!call) throw StorageErrors.internal('resumable upload without its request');
    return call;
  };
  const server = new Server({
    path: RESUMABLE_PATH,
    datastore: resumable.datastore,
    disableTerminationForFinishedUploads: true,
    // One writer per upload across workers and instances (resumable-lock.ts), not per process.
    locker: createLeaseLocker(ctx.services.db, ctx.services.bus, ctx.services.log),
    allowedHeaders: ['Authorization', 'X-Upsert', 'Upload-Expires', 'ApiKey', 'x-signature'],
    exposedHeaders: ['Upload-Expires', 'Tus-Complete', 'X-Request-Id'],
    namingFunction: (req, metadata) => {
      const meta = parseResumableMetadata(metadata ?? undefined);
      const target = { bucket: meta.bucket, name: meta.name, version: crypto.randomUUID() };
      callOf(req).target = target;
      return target.version;
    },
    // storage-api's form: the public URL, then base64url(bucket/name/version); `/sign/` for signed ones.
    generateUrl: (req) => {
      const call = callOf(req);
      const sign = call.signature === undefined ? '' : '/sign';
      return `${config.publicUrl}${RESUMABLE_PATH}${sign}/${encodeUploadId(targetOrThrow(call))}`;
    },
    getFileIdFromRequest: (req, lastPath) => {
      const target = decodeUploadId(lastPath ?? '');
      if (!target) return undefined;
      callOf(req).target = target;
      return target.version;
    },
    maxSize: async (req) => {
      const target = callOf(req).target;
      if (!target) return config.storage.fileSizeLimit;
      return maxBytesOf(ctx, await bucketLimits(ctx, target.bucket));
    },
    onIncomingRequest: async (req, id) => {
      const call = callOf(req);
      const target = targetOrThrow(call);
      if (call.signature !== undefined) {
        // A signed upload URL opens its one object, for whoever holds it, as its signer (the
        // signer's insert was tested when it was made): the row is written past RLS, owned by them.
        const payload = await verifyToken(ctx, call.signature, `${target.bucket}/${target.name}`, 'upload');
        const owner = typeof payload.owner === 'string' ? payload.owner : undefined;
        call.claims = { role: 'service_role', ...(owner && { sub: owner }) };
        call.upsert = payload.upsert === true;
      }
      let contentType = '';
      if (req.method !== 'POST') {
        const upload = await resumable.datastore.getUpload(id);
        const meta = parseResumableMetadata(upload.metadata);
        // An id rewrapped under another name is no upload of that name.
        if (meta.bucket !== target.bucket || meta.name !== target.name) throw StorageErrors.objectNotFound();
        contentType = meta.contentType ?? '';
      }
      // HEAD only reads the offset (storage-api does not test it either).
      if (req.method === 'HEAD') return;
      await probeUpload(ctx, { ...target, upsert: call.upsert, claims: call.claims }, contentType);
    },
    onUploadCreate: async (_req, upload) => {
      const meta = parseResumableMetadata(upload.metadata);
      const bucket = await bucketLimits(ctx, meta.bucket);
      if (meta.contentType !== undefined) checkMime(meta.contentType, bucket);
      // Refused at creation, not after the last byte.
      userMetadataOf(meta.userMetadata, false);
      return {};
    },
    onUploadFinish: async (req, upload) => {
      const call = callOf(req);
      // Removed once the answer is made (the creation handler still reads the upload's state),
      // whether the row was written or refused: a complete upload left behind would answer a
      // client's HEAD with its full offset, which the client takes for success.
      call.finished = upload.id;
      await commitResumable(ctx, call, upload);
      return { headers: { 'Tus-Complete': '1' } };
    },
    onResponseError: (req, err) => {
      if (err instanceof ApiError) return tusBody(err);
      if (err instanceof Error) {
        calls.get(req)?.c.get('log').error({ err }, 'resumable upload failed');
        return { status_code: 500, body: 'Internal server error' };
      }
      return undefined;
    },
  });

  return async (c) => {
    let claims: Claims | undefined;
    const signed = SIGNED_PATH.test(c.req.path);
    const signature = headerOf(c, 'x-signature');
    if (signed && c.req.method !== 'OPTIONS' && !signature)
      return tusAnswer(c, StorageErrors.invalidSignature('Missing x-signature header'));
    if (c.req.method !== 'OPTIONS' && !signed) {
      try {
        claims = await callerClaims(ctx, c);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        return tusAnswer(c, err);
      }
    }
    const req = c.req.raw;
    const call: Call = {
      c,
      claims: claims ?? { role: 'anon' },
      upsert: headerOf(c, 'x-upsert') === 'true',
      ...(signed && signature !== undefined && { signature }),
    };
    calls.set(req, call);
    const response = await server.handleWeb(req);
    if (call.finished !== undefined)
      await resumable
        .remove(call.finished)
        .catch((err: unknown) => c.get('log').warn({ err }, 'removing a finished resumable upload failed'));
    return response;
  };
}

/** The last byte arrived: the staged bytes become the object and its row is written as the caller. */
async function commitResumable(ctx: StorageContext, call: Call, upload: Upload): Promise<void> {
  const { resumable } = ctx.services;
  // The data store's own record decides what is written, not the URL that named the upload.
  const meta = parseResumableMetadata(upload.metadata);
  const target: UploadTarget = { bucket: meta.bucket, name: meta.name, upsert: call.upsert, claims: call.claims };
  const bucket = await bucketLimits(ctx, target.bucket);
  const contentType = meta.contentType ?? 'application/octet-stream';
  checkMime(contentType, bucket);
  const stored = {
    contentType,
    cacheControl: meta.cacheControl,
    userMetadata: userMetadataOf(meta.userMetadata, false),
  };
  const maxBytes = maxBytesOf(ctx, bucket);
  const file = resumable.fileOf(upload.id);
  if (file === undefined) {
    // Staged elsewhere (S3): streamed into the object store as a plain upload's body is.
    const body = await resumable.read(upload.id);
    await storeAndCommit(ctx, call.c, target, { body, failed: () => body.errored !== null, ...stored }, maxBytes);
    return;
  }
  // On the local disk: the staged file becomes the object (hashed, flushed and linked).
  const key = { bucket: target.bucket, name: target.name, version: crypto.randomUUID() };
  const written = await ctx.store.adopt(key, file, { maxBytes, contentType }).catch((err: unknown) => {
    throw err instanceof TooLarge ? StorageErrors.tooLarge() : err;
  });
  await commitStored(ctx, call.c, target, { key, written, ...stored });
}

const SIGNED_PATH = /^\/storage\/v1\/upload\/resumable\/sign(\/|$)/;

function tusAnswer(c: StorageHttp, err: ApiError): Response {
  const { status_code, body } = tusBody(err);
  return c.body(body, status_code as 400, { 'tus-resumable': '1.0.0', 'content-type': 'text/plain' });
}

function targetOrThrow(call: Call): ResumableTarget {
  if (!call.target) throw StorageErrors.internal('resumable upload without a target');
  return call.target;
}

/** storage-api's TUS error: the status its error carries, the message as the body. */
function tusBody(err: ApiError): { status_code: number; body: string } {
  const status = Number(err.extra.fields?.statusCode ?? err.status);
  return { status_code: Number.isInteger(status) ? status : err.status, body: err.message };
}
