/**
 * /storage/v1: the storage API storage-js calls. Every object and bucket decision is PostgreSQL's
 * row-level security on storage.objects / storage.buckets under the caller's JWT; the bytes live
 * in an ObjectStore (local disk or S3). Object paths are parsed from the raw URL (see names.ts).
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { apiRateLimit } from '../platform/api-limits.js';
import { requireApiKey, type KeyEnv } from '../platform/keys.js';
import type { Services } from '../services.js';
import { createBucket, deleteBucket, emptyBucket, getBucket, listBuckets, updateBucket } from './buckets.js';
import type { StorageContext } from './context.js';
import { resumableUploads } from './resumable.js';
import { s3Routes } from './s3/routes.js';
import {
  copyObject,
  downloadObject,
  listObjects,
  listObjectsV2,
  moveObject,
  objectInfo,
  removeObjects,
  signObject,
  signUpload,
  uploadObject,
  uploadToSignedUrl,
} from './objects.js';

export { moveBucket, MoveRefused, type MoveEvents, type MoveResult } from './store-move.js';
export { bucketsToVerify, problemsOf, storeNameOf, verifyBucket, type BucketReport } from './verify.js';
export { createAccessKey, listAccessKeys, revokeAccessKey, type AccessKey } from './s3/keys.js';

export function storageRoutes(services: Services): Hono<KeyEnv> {
  const ctx: StorageContext = { services, store: services.store, secret: services.tokens.secret };
  const app = new Hono<KeyEnv>();
  // Public and signed URLs are opened by whoever holds them (an <img> tag, a CDN): no apikey.
  const apiKey = requireApiKey(services.tokens);
  const apiKeyUnlessOpen: MiddlewareHandler<KeyEnv> = (c, next) =>
    opensWithoutKey(c.req.method, c.req.path) ? next() : apiKey(c, next);
  app.use('*', apiKeyUnlessOpen);
  // Public and signed URLs count too, against the address that opens them.
  const rateLimit = apiRateLimit(services, 'storage');
  if (rateLimit) app.use('*', rateLimit);

  // The S3 protocol (SigV4-signed, no apikey): see docs/storage.md.
  app.route('/s3', s3Routes(ctx));

  app.get('/bucket', (c) => listBuckets(ctx, c));
  app.get('/bucket/:id', (c) => getBucket(ctx, c));
  app.post('/bucket', (c) => createBucket(ctx, c));
  app.put('/bucket/:id', (c) => updateBucket(ctx, c));
  app.post('/bucket/:id/empty', (c) => emptyBucket(ctx, c));
  app.delete('/bucket/:id', (c) => deleteBucket(ctx, c));

  app.post('/object/list/:bucket', (c) => listObjects(ctx, c));
  app.post('/object/list-v2/:bucket', (c) => listObjectsV2(ctx, c));
  app.post('/object/move', (c) => moveObject(ctx, c));
  app.post('/object/copy', (c) => copyObject(ctx, c));
  app.post('/object/sign/*', (c) => signObject(ctx, c));
  app.on(['GET', 'HEAD'], '/object/sign/*', (c) => downloadObject(ctx, c, 'object/sign', 'sign'));
  app.post('/object/upload/sign/*', (c) => signUpload(ctx, c));
  app.put('/object/upload/sign/*', (c) => uploadToSignedUrl(ctx, c));
  app.get('/object/info/public/*', (c) => objectInfo(ctx, c, 'object/info/public', 'public'));
  app.get('/object/info/authenticated/*', (c) => objectInfo(ctx, c, 'object/info/authenticated', 'authenticated'));
  app.get('/object/info/*', (c) => objectInfo(ctx, c, 'object/info', 'authenticated'));
  app.on(['GET', 'HEAD'], '/object/public/*', (c) => downloadObject(ctx, c, 'object/public', 'public'));
  app.on(['GET', 'HEAD'], '/object/authenticated/*', (c) =>
    downloadObject(ctx, c, 'object/authenticated', 'authenticated'),
  );
  app.on(['GET', 'HEAD'], '/object/*', (c) => downloadObject(ctx, c, 'object', 'authenticated'));
  app.post('/object/*', (c) => uploadObject(ctx, c, 'object'));
  app.put('/object/*', (c) => uploadObject(ctx, c, 'object'));
  app.delete('/object/:bucket', (c) => removeObjects(ctx, c));

  // TUS 1.0 (resumable.ts): creation, creation-with-upload, termination, HEAD offsets. Hono routes
  // a HEAD as a GET (the request keeps its method), so GET is listed for HEAD's sake.
  const resumable = resumableUploads(ctx);
  app.on(['POST', 'PATCH', 'GET', 'HEAD', 'DELETE', 'OPTIONS'], ['/upload/resumable', '/upload/resumable/*'], (c) =>
    resumable(c),
  );

  app.on(['GET', 'HEAD'], '/render/image/public/*', (c) =>
    downloadObject(ctx, c, 'render/image/public', 'public', true),
  );
  app.on(['GET', 'HEAD'], '/render/image/sign/*', (c) => downloadObject(ctx, c, 'render/image/sign', 'sign', true));
  app.on(['GET', 'HEAD'], '/render/image/authenticated/*', (c) =>
    downloadObject(ctx, c, 'render/image/authenticated', 'authenticated', true),
  );
  return app;
}

function opensWithoutKey(method: string, path: string): boolean {
  // S3 clients sign their requests (SigV4) and send no apikey.
  if (path === '/storage/v1/s3' || path.startsWith('/storage/v1/s3/')) return true;
  if (/^\/storage\/v1\/(object|render\/image)\/public\//.test(path)) return true;
  if (method !== 'POST' && /^\/storage\/v1\/(object|render\/image)\/sign\//.test(path)) return true;
  // A signed resumable upload carries its token in x-signature, as a signed upload URL in `token`.
  if (/^\/storage\/v1\/upload\/resumable\/sign(\/|$)/.test(path)) return true;
  return method === 'PUT' && /^\/storage\/v1\/object\/upload\/sign\//.test(path);
}
