/** /object: upload, download, info, list, move, copy, remove and signed URLs. */
import crypto from 'node:crypto';
import { headerOf } from '../platform/http.js';
import type { Claims, Tx } from '../db/index.js';
import {
  asCaller,
  callerClaims,
  fromPg,
  nodeRequest,
  ownerOf,
  rawPathAfter,
  readJsonBody,
  type StorageContext,
  type StorageHttp,
} from './context.js';
import { StorageErrors } from './errors.js';
import { planList } from './list.js';
import { listV2Options, listV2Result, planListV2, type ListV2Row } from './list-v2.js';
import { parseBucketSegment, parseObjectPath, validBucketId, validObjectName } from './names.js';
import { encodeTransform, parseTransform, sendTransformed } from './render.js';
import { findObject, sendObject, type ObjectRow } from './serve.js';
import { expiresInOf, signToken, UPLOAD_URL_SECONDS, verifyToken } from './signed.js';
import { MissingObject, type ObjectKey } from '../platform/store/index.js';
import { probeUpload, upload } from './upload.js';
import { respondJson, stringifyJson } from '../platform/json.js';

export type Access = 'authenticated' | 'public' | 'sign';

/** POST (create; `x-upsert: true` replaces) and PUT (replace) /object/<bucket>/<name>. */
export async function uploadObject(ctx: StorageContext, c: StorageHttp, prefix: string) {
  const claims = await callerClaims(ctx, c);
  const { bucket, name } = parseObjectPath(rawPathAfter(c, prefix));
  const upsert = c.req.method === 'PUT' || headerOf(c, 'x-upsert') === 'true';
  return respondJson(c, await closingOnRefusal(c, upload(ctx, c, { bucket, name, upsert, claims })));
}

/**
 * An upload refused before its body was read ends the connection after the answer, as for a body
 * over the limit: otherwise Node would read (and discard) the rest of a large body to keep the
 * connection alive.
 */
async function closingOnRefusal<T>(c: StorageHttp, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (!nodeRequest(c).complete) c.header('connection', 'close');
    throw err;
  }
}

/** GET/HEAD of an object: as the caller, from a public bucket, or with a signed token; optionally transformed. */
export async function downloadObject(
  ctx: StorageContext,
  c: StorageHttp,
  prefix: string,
  access: Access,
  render = false,
) {
  const { bucket, name } = parseObjectPath(rawPathAfter(c, prefix));
  let row: ObjectRow;
  let transformQuery = new URLSearchParams(new URL(c.req.url).search);
  if (access === 'authenticated') {
    const claims = await callerClaims(ctx, c);
    row = await asCaller(ctx, c, claims, (tx) => findObject(tx, bucket, name), true);
  } else if (access === 'public') {
    // Public buckets are read past RLS, as on Supabase; a bucket that is not public is "not found".
    const isPublic = (await ctx.services.db.query('select 1 from storage.buckets where id = $1 and public', [bucket]))
      .rowCount;
    if (!isPublic) throw StorageErrors.bucketNotFound();
    row = await findObject(ctx.services.db, bucket, name);
  } else {
    const payload = await verifyToken(ctx, c.req.query('token'), `${bucket}/${name}`, 'download');
    if (typeof payload.transformations === 'string') {
      transformQuery = new URLSearchParams(payload.transformations);
      render = true;
    }
    row = await findObject(ctx.services.db, bucket, name);
  }
  if (render) return sendTransformed(ctx, c, row, parseTransform(transformQuery));
  return sendObject(ctx, c, row);
}

/** GET /object/info/<bucket>/<name>: the object's facts (storage-js camelises them). */
export async function objectInfo(
  ctx: StorageContext,
  c: StorageHttp,
  prefix: string,
  access: 'authenticated' | 'public',
) {
  const { bucket, name } = parseObjectPath(rawPathAfter(c, prefix));
  let row: ObjectRow;
  if (access === 'public') {
    const isPublic = (await ctx.services.db.query('select 1 from storage.buckets where id = $1 and public', [bucket]))
      .rowCount;
    if (!isPublic) throw StorageErrors.bucketNotFound();
    row = await findObject(ctx.services.db, bucket, name);
  } else {
    row = await asCaller(ctx, c, await callerClaims(ctx, c), (tx) => findObject(tx, bucket, name), true);
  }
  const meta = row.metadata;
  // storage-api's fields, and only those (storage-js's FileObjectV2 has no updated_at).
  return respondJson(c, {
    id: row.id,
    name: row.name,
    version: row.version,
    bucket_id: row.bucket_id,
    size: meta?.size ?? 0,
    content_type: meta?.mimetype ?? null,
    cache_control: meta?.cacheControl ?? null,
    etag: meta?.eTag ?? null,
    last_modified: row.updated_at,
    created_at: row.created_at,
    metadata: row.user_metadata,
  });
}

/** POST /object/list-v2/<bucket>: a page of objects (and, with a delimiter, folders) under a prefix. */
export async function listObjectsV2(ctx: StorageContext, c: StorageHttp) {
  const claims = await callerClaims(ctx, c);
  const bucket = validBucketId(c.req.param('bucket'));
  const options = listV2Options(await readJsonBody(c));
  const plan = planListV2(bucket, options);
  const rows = await asCaller(
    ctx,
    c,
    claims,
    async (tx) => (await tx.query<ListV2Row>(plan.text, plan.values)).rows,
    true,
  );
  return respondJson(c, listV2Result(options, rows));
}

/** POST /object/list/<bucket>: one folder level (files and sub-folders) under a prefix. */
export async function listObjects(ctx: StorageContext, c: StorageHttp) {
  const claims = await callerClaims(ctx, c);
  const bucket = validBucketId(c.req.param('bucket'));
  const plan = planList(bucket, await readJsonBody(c));
  const rows = await asCaller(ctx, c, claims, async (tx) => (await tx.query(plan.text, plan.values)).rows, true);
  return respondJson(c, rows);
}

/** DELETE /object/<bucket> with `{prefixes: [names]}`: removes what the caller may delete. */
export async function removeObjects(ctx: StorageContext, c: StorageHttp) {
  const claims = await callerClaims(ctx, c);
  const bucket = validBucketId(c.req.param('bucket'));
  const body = await readJsonBody(c);
  const names = body.prefixes;
  if (
    !Array.isArray(names) ||
    names.length === 0 ||
    names.length > 1000 ||
    !names.every((n) => typeof n === 'string')
  ) {
    throw StorageErrors.invalidRequest('prefixes must be a list of 1 to 1000 object names');
  }
  const rows = await asCaller(ctx, c, claims, async (tx) => {
    const deleted = await tx.query(
      'delete from storage.objects where bucket_id = $1 and name = any($2::text[]) returning id, bucket_id, name, owner, owner_id, version, metadata, user_metadata, created_at, updated_at, last_accessed_at',
      [bucket, names],
    );
    return deleted.rows;
  });
  const removed: ObjectKey[] = rows
    .filter((r) => r.version)
    .map((r) => ({ bucket: r.bucket_id as string, name: r.name as string, version: r.version as string }));
  await ctx.store.remove(removed);
  return respondJson(
    c,
    rows.map(({ version: _version, ...row }) => row),
  );
}

interface Transfer {
  readonly from: { bucket: string; name: string };
  readonly to: { bucket: string; name: string };
}

function transferOf(body: Record<string, unknown>): Transfer {
  const bucket = validBucketId(body.bucketId);
  const destinationBucket =
    body.destinationBucket === undefined || body.destinationBucket === null
      ? bucket
      : validBucketId(body.destinationBucket);
  return {
    from: { bucket, name: validObjectName(body.sourceKey) },
    to: { bucket: destinationBucket, name: validObjectName(body.destinationKey) },
  };
}

async function lockName(tx: Tx, bucket: string, name: string) {
  await tx.query("select pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 6))", [bucket, name]);
}

/**
 * POST /object/move: the row is renamed as the caller (RLS checks the old row and the new one) and
 * the bytes copied to the new key before the commit; the old bytes go after it.
 */
export async function moveObject(ctx: StorageContext, c: StorageHttp) {
  const claims = await callerClaims(ctx, c);
  const { from, to } = transferOf(await readJsonBody(c));
  const version = crypto.randomUUID();
  const target: ObjectKey = { ...to, version };
  let copied = false;
  try {
    const old = await asCaller(ctx, c, claims, async (tx) => {
      // Locked: two moves (or a move and an upsert) of one object cannot both copy its bytes.
      const row = await findObject(tx, from.bucket, from.name, true);
      await lockName(tx, to.bucket, to.name);
      const updated = await tx.query(
        'update storage.objects set bucket_id = $2, name = $3, version = $4, updated_at = now() where id = $1',
        [row.id, to.bucket, to.name, version],
      );
      if (updated.rowCount === 0) throw StorageErrors.objectNotFound();
      await copyBytes(ctx, row, target);
      copied = true;
      return row;
    });
    await ctx.store
      .remove([{ bucket: old.bucket_id, name: old.name, version: old.version as string }])
      .catch(() => undefined);
  } catch (err) {
    if (copied) await ctx.store.remove([target]).catch(() => undefined);
    throw err;
  }
  return respondJson(c, { message: 'Successfully moved' });
}

/** POST /object/copy: a new row (owned by the caller) and a copy of the bytes. */
export async function copyObject(ctx: StorageContext, c: StorageHttp) {
  const claims = await callerClaims(ctx, c);
  const body = await readJsonBody(c);
  const { from, to } = transferOf(body);
  const { id } = await copyObjectAs(ctx, c, claims, from, to, { copyMetadata: body.copyMetadata !== false });
  return respondJson(c, { Id: id, Key: `${to.bucket}/${to.name}` });
}

/**
 * Copies an object as `claims` (RLS reads the source and writes the target row). With `upsert`
 * (S3's CopyObject) an existing target is replaced, its old bytes removed after the commit.
 */
export async function copyObjectAs(
  ctx: StorageContext,
  c: StorageHttp,
  claims: Claims,
  from: { bucket: string; name: string },
  to: { bucket: string; name: string },
  options: { copyMetadata: boolean; upsert?: boolean },
): Promise<{ id: string | undefined; metadata: ObjectRow['metadata'] }> {
  const version = crypto.randomUUID();
  const target: ObjectKey = { ...to, version };
  let copied = false;
  try {
    const done = await asCaller(ctx, c, claims, async (tx) => {
      const row = await findObject(tx, from.bucket, from.name);
      await lockName(tx, to.bucket, to.name);
      const prior = options.upsert
        ? (
            await tx.query<{ version: string | null }>(
              'select version from storage.objects where bucket_id = $1 and name = $2 for update',
              [to.bucket, to.name],
            )
          ).rows[0]?.version
        : undefined;
      const metadata = { ...row.metadata, lastModified: new Date().toISOString() } as ObjectRow['metadata'];
      const inserted = await tx.query<{ id: string }>(
        `insert into storage.objects (bucket_id, name, owner, owner_id, metadata, user_metadata, version) values ($1, $2, $3, $4, $5, $6, $7)
         ${options.upsert ? 'on conflict (bucket_id, name) do update set owner = excluded.owner, owner_id = excluded.owner_id, metadata = excluded.metadata, user_metadata = excluded.user_metadata, version = excluded.version, updated_at = now()' : ''}
         returning id`,
        [
          to.bucket,
          to.name,
          ownerOf(claims),
          typeof claims.sub === 'string' ? claims.sub : null,
          JSON.stringify(metadata),
          options.copyMetadata && row.user_metadata ? stringifyJson(row.user_metadata) : null,
          version,
        ],
      );
      await copyBytes(ctx, row, target);
      copied = true;
      return { id: inserted.rows[0]?.id, metadata, prior };
    });
    if (done.prior && done.prior !== version)
      await ctx.store.remove([{ ...to, version: done.prior }]).catch(() => undefined);
    return { id: done.id, metadata: done.metadata };
  } catch (err) {
    if (copied) await ctx.store.remove([target]).catch(() => undefined);
    throw fromPg(err);
  }
}

async function copyBytes(ctx: StorageContext, row: ObjectRow, target: ObjectKey) {
  await ctx.store
    .copy({ bucket: row.bucket_id, name: row.name, version: row.version as string }, target)
    .catch((err: unknown) => {
      throw err instanceof MissingObject ? StorageErrors.objectNotFound() : err;
    });
}

/** POST /object/sign/<bucket>/<name> `{expiresIn, transform?}`: one signed download URL. */
export async function signObject(ctx: StorageContext, c: StorageHttp) {
  const claims = await callerClaims(ctx, c);
  const raw = rawPathAfter(c, 'object/sign');
  if (!raw.includes('/')) return signObjects(ctx, c, claims, parseBucketSegment(raw));
  const { bucket, name } = parseObjectPath(raw);
  const body = await readJsonBody(c);
  const expiresIn = expiresInOf(body.expiresIn);
  const transformations = encodeTransform(body.transform);
  await asCaller(ctx, c, claims, (tx) => findObject(tx, bucket, name), true);
  const url = `${bucket}/${name}`;
  const token = await signToken(ctx, 'download', { url, ...(transformations && { transformations }) }, expiresIn);
  return respondJson(c, { signedURL: `/${transformations ? 'render/image' : 'object'}/sign/${url}?token=${token}` });
}

/** POST /object/sign/<bucket> `{expiresIn, paths}`: a signed URL (or an error) per path. */
async function signObjects(ctx: StorageContext, c: StorageHttp, claims: Claims, bucket: string) {
  const body = await readJsonBody(c);
  const expiresIn = expiresInOf(body.expiresIn);
  const paths = body.paths;
  if (
    !Array.isArray(paths) ||
    paths.length === 0 ||
    paths.length > 1000 ||
    !paths.every((p) => typeof p === 'string')
  ) {
    throw StorageErrors.invalidRequest('paths must be a list of 1 to 1000 object names');
  }
  const visible = await asCaller(
    ctx,
    c,
    claims,
    async (tx) =>
      new Set(
        (
          await tx.query<{ name: string }>(
            'select name from storage.objects where bucket_id = $1 and name = any($2::text[])',
            [bucket, paths],
          )
        ).rows.map((r) => r.name),
      ),
    true,
  );
  const results = await Promise.all(
    paths.map(async (path) => {
      if (!visible.has(path))
        return { error: 'Either the object does not exist or you do not have access to it', path, signedURL: null };
      const url = `${bucket}/${path}`;
      return {
        error: null,
        path,
        signedURL: `/object/sign/${url}?token=${await signToken(ctx, 'download', { url }, expiresIn)}`,
      };
    }),
  );
  return respondJson(c, results);
}

/** POST /object/upload/sign/<bucket>/<name>: a URL anyone holding it may upload to, for two hours. */
export async function signUpload(ctx: StorageContext, c: StorageHttp) {
  const claims = await callerClaims(ctx, c);
  const { bucket, name } = parseObjectPath(rawPathAfter(c, 'object/upload/sign'));
  const upsert = headerOf(c, 'x-upsert') === 'true';
  const exists = (await ctx.services.db.query('select 1 from storage.buckets where id = $1', [bucket])).rowCount;
  if (!exists) throw StorageErrors.bucketNotFound();
  // The permission is the signer's, decided now, as storage-api decides it.
  await probeUpload(ctx, { bucket, name, upsert, claims }, '');
  const url = `${bucket}/${name}`;
  const owner = typeof claims.sub === 'string' ? claims.sub : undefined;
  const token = await signToken(ctx, 'upload', { url, upsert, ...(owner && { owner }) }, UPLOAD_URL_SECONDS);
  return respondJson(c, { url: `/object/upload/sign/${url}?token=${token}`, token });
}

/** PUT /object/upload/sign/<bucket>/<name>?token=: the upload a signed upload URL allows. */
export async function uploadToSignedUrl(ctx: StorageContext, c: StorageHttp) {
  const { bucket, name } = parseObjectPath(rawPathAfter(c, 'object/upload/sign'));
  const payload = await verifyToken(ctx, c.req.query('token'), `${bucket}/${name}`, 'upload');
  const owner = typeof payload.owner === 'string' ? payload.owner : undefined;
  // Written past RLS: the signer's permission was checked when the URL was made.
  const claims: Claims = { role: 'service_role', ...(owner && { sub: owner }) };
  const result = await closingOnRefusal(c, upload(ctx, c, { bucket, name, upsert: payload.upsert === true, claims }));
  return respondJson(c, { Key: result.Key, Id: result.Id });
}
