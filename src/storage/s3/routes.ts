/**
 * /storage/v1/s3: the S3 REST API, path-style (`/storage/v1/s3/<bucket>/<key>`), as Supabase's
 * storage-api serves it. Every request is SigV4-signed (header or presigned query); the operation
 * is picked by method, path depth and the query's sub-resources, and its errors answered here, in
 * S3's XML, in one place.
 */
import { Hono } from 'hono';
import type { KeyEnv } from '../../platform/keys.js';
import { nodeRequest, type StorageContext, type StorageHttp } from '../context.js';
import { parseObjectPath, validBucketId } from '../names.js';
import { authenticate, type S3Caller } from './auth.js';
import { createBucket, deleteBucket, headBucket, listBuckets, listObjects } from './buckets.js';
import { asS3Error, errorXml, S3Errors } from './errors.js';
import {
  abortUpload,
  completeUpload,
  createUpload,
  listParts,
  listUploads,
  uploadPart,
  uploadPartCopy,
} from './multipart.js';
import { copyObject, deleteObject, deleteObjects, getObject, putObject } from './objects.js';

/** S3's bound on a request's headers (8 KiB); Node refuses past 16 KiB itself (431). */
const MAX_HEADER_BYTES = 8 * 1024;

export function s3Routes(ctx: StorageContext): Hono<KeyEnv> {
  const app = new Hono<KeyEnv>();
  const serve = async (c: StorageHttp) => {
    try {
      return await dispatch(ctx, c);
    } catch (err) {
      const s3 = asS3Error(err);
      if (!s3) {
        c.get('log').error({ err }, 'S3 request failed');
      }
      const answer = s3 ?? S3Errors.internal();
      const request = nodeRequest(c);
      // A refused upload's body is not read: the connection closes after the answer.
      if (!request.complete && c.req.method !== 'GET' && c.req.method !== 'HEAD') c.header('connection', 'close');
      for (const [name, value] of Object.entries(answer.headers)) c.header(name, value);
      const requestId = c.get('requestId') ?? '';
      c.header('x-amz-request-id', requestId);
      // HEAD answers carry no body: the SDKs read the status (404 → NotFound).
      if (c.req.method === 'HEAD') return c.body(null, answer.status as 200);
      return c.body(errorXml(answer, new URL(c.req.url).pathname, requestId), answer.status as 200, {
        'content-type': 'application/xml',
      });
    }
  };
  app.all('/', serve);
  app.all('/*', serve);
  return app;
}

async function dispatch(ctx: StorageContext, c: StorageHttp): Promise<Response> {
  const incoming = nodeRequest(c);
  let headerBytes = 0;
  for (let i = 0; i < incoming.rawHeaders.length; i++) headerBytes += incoming.rawHeaders[i]?.length ?? 0;
  if (headerBytes > MAX_HEADER_BYTES) throw S3Errors.invalidRequest('The request headers are too large');
  const caller = await authenticate(ctx, c);
  const raw = (incoming.url ?? '').split('?')[0] ?? '';
  const marker = '/storage/v1/s3';
  const rest = raw.slice(raw.indexOf(marker) + marker.length).replace(/^\//, '');
  const query = new URL(c.req.url).searchParams;
  const method = c.req.method;
  if (rest === '') {
    if (method === 'GET') return listBuckets(ctx, c, caller);
    throw S3Errors.methodNotAllowed();
  }
  const slash = rest.indexOf('/');
  if (slash < 0 || slash === rest.length - 1) {
    const bucket = validBucketId(decodeBucket(slash < 0 ? rest : rest.slice(0, slash)));
    return bucketOperation(ctx, c, caller, bucket, method, query);
  }
  const at = parseObjectPath(rest);
  return objectOperation(ctx, c, caller, at, method, query);
}

function decodeBucket(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw S3Errors.invalidArgument('The bucket name is not valid percent-encoding');
  }
}

function bucketOperation(
  ctx: StorageContext,
  c: StorageHttp,
  caller: S3Caller,
  bucket: string,
  method: string,
  query: URLSearchParams,
): Promise<Response> {
  if (method === 'GET' && query.has('uploads')) return listUploads(ctx, c, caller, bucket);
  if (method === 'GET' && query.has('location'))
    return Promise.resolve(
      c.body(
        `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${caller.signed.region}</LocationConstraint>`,
        200,
        { 'content-type': 'application/xml' },
      ),
    );
  if (method === 'GET') {
    for (const sub of ['versioning', 'acl', 'policy', 'cors', 'lifecycle', 'tagging', 'versions'])
      if (query.has(sub)) throw S3Errors.notImplemented(`The ${sub} sub-resource`);
    return listObjects(ctx, c, caller, bucket);
  }
  if (method === 'HEAD') return headBucket(ctx, c, caller, bucket);
  if (method === 'PUT') return createBucket(ctx, c, caller, bucket);
  if (method === 'DELETE') return deleteBucket(ctx, c, caller, bucket);
  if (method === 'POST' && query.has('delete')) return deleteObjects(ctx, c, caller, bucket);
  throw S3Errors.methodNotAllowed();
}

function objectOperation(
  ctx: StorageContext,
  c: StorageHttp,
  caller: S3Caller,
  at: { bucket: string; name: string },
  method: string,
  query: URLSearchParams,
): Promise<Response> {
  const uploadId = query.get('uploadId');
  if (method === 'PUT') {
    if (uploadId !== null) {
      if (c.req.header('x-amz-copy-source') !== undefined)
        return uploadPartCopy(ctx, c, caller, at, uploadId, query.get('partNumber') ?? '');
      return uploadPart(ctx, c, caller, at, uploadId, query.get('partNumber') ?? '');
    }
    if (c.req.header('x-amz-copy-source') !== undefined) return copyObject(ctx, c, caller, at);
    return putObject(ctx, c, caller, at);
  }
  if (method === 'GET' || method === 'HEAD') {
    if (uploadId !== null && method === 'GET') return listParts(ctx, c, caller, at, uploadId);
    return getObject(ctx, c, caller, at);
  }
  if (method === 'DELETE') {
    if (uploadId !== null) return abortUpload(ctx, c, caller, at, uploadId);
    return deleteObject(ctx, c, caller, at);
  }
  if (method === 'POST') {
    if (query.has('uploads')) return createUpload(ctx, c, caller, at);
    if (uploadId !== null) return completeUpload(ctx, c, caller, at, uploadId);
  }
  throw S3Errors.methodNotAllowed();
}
