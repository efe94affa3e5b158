/** S3's bucket operations (ListBuckets, CreateBucket, HeadBucket, DeleteBucket, ListObjectsV2), as the caller. */
import { asCaller, ownerOf, type StorageContext, type StorageHttp } from '../context.js';
import type { S3Caller } from './auth.js';
import { smallBody } from './auth.js';
import { S3Error, S3Errors } from './errors.js';
import { continuationTokenOf, listOptions, planS3List, type ListRow } from './list.js';
import { xmlDocument, type XmlTree } from './xml.js';

export function sendXml(c: StorageHttp, xml: string, status = 200, headers: Record<string, string> = {}): Response {
  return c.body(xml, status as 200, { 'content-type': 'application/xml', ...headers });
}

export async function listBuckets(ctx: StorageContext, c: StorageHttp, caller: S3Caller) {
  const rows = await asCaller(
    ctx,
    c,
    caller.claims,
    async (tx) =>
      (await tx.query<{ id: string; created_at: Date }>('select id, created_at from storage.buckets order by id')).rows,
    true,
  );
  const owner = typeof caller.claims.sub === 'string' ? caller.claims.sub : 'service_role';
  return sendXml(
    c,
    xmlDocument('ListAllMyBucketsResult', {
      Owner: { ID: owner, DisplayName: owner },
      Buckets: { Bucket: rows.map((r) => ({ Name: r.id, CreationDate: r.created_at })) },
    }),
  );
}

export async function createBucket(ctx: StorageContext, c: StorageHttp, caller: S3Caller, bucket: string) {
  // A CreateBucketConfiguration (the region) may come along; there is one region here.
  await smallBody(c, caller, 64 * 1024);
  const claims = caller.claims;
  const acl = c.req.header('x-amz-acl');
  await asCaller(ctx, c, claims, (tx) =>
    tx.query('insert into storage.buckets (id, name, owner, owner_id, public) values ($1, $1, $2, $3, $4)', [
      bucket,
      ownerOf(claims),
      typeof claims.sub === 'string' ? claims.sub : null,
      acl === 'public-read',
    ]),
  );
  return c.body(null, 200, { location: `/${bucket}` });
}

export async function headBucket(ctx: StorageContext, c: StorageHttp, caller: S3Caller, bucket: string) {
  const found = await asCaller(
    ctx,
    c,
    caller.claims,
    async (tx) => (await tx.query('select 1 from storage.buckets where id = $1', [bucket])).rowCount,
    true,
  );
  if (!found) throw S3Errors.noSuchBucket();
  return c.body(null, 200, { 'x-amz-bucket-region': caller.signed.region });
}

export async function deleteBucket(ctx: StorageContext, c: StorageHttp, caller: S3Caller, bucket: string) {
  // Counted as the server: an object (or an upload in progress) the caller cannot see keeps the bucket.
  const objects = await ctx.services.db.query(
    'select 1 from storage.objects where bucket_id = $1 union all select 1 from storage.s3_multipart_uploads where bucket_id = $1 limit 1',
    [bucket],
  );
  if ((objects.rowCount ?? 0) > 0)
    throw new S3Error(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty');
  const deleted = await asCaller(
    ctx,
    c,
    caller.claims,
    async (tx) => (await tx.query('delete from storage.buckets where id = $1', [bucket])).rowCount,
  );
  if (!deleted) throw S3Errors.noSuchBucket();
  return c.body(null, 204);
}

export async function bucketExists(ctx: StorageContext, bucket: string): Promise<void> {
  const found = await ctx.services.db.query('select 1 from storage.buckets where id = $1', [bucket]);
  if (!found.rowCount) throw S3Errors.noSuchBucket();
}

/** ListObjectsV2 (and the older ListObjects, its marker read as start-after). */
export async function listObjects(ctx: StorageContext, c: StorageHttp, caller: S3Caller, bucket: string) {
  const query = new URL(c.req.url).searchParams;
  const v2 = query.get('list-type') === '2';
  const options = listOptions(query);
  await bucketExists(ctx, bucket);
  const plan = planS3List(bucket, options);
  const rows = await asCaller(
    ctx,
    c,
    caller.claims,
    async (tx) => (await tx.query<ListRow>(plan.text, plan.values)).rows,
    true,
  );
  const truncated = rows.length > options.maxKeys;
  const page = rows.slice(0, options.maxKeys);
  const enc = (text: string) => (options.encodingType === 'url' ? encodeURIComponent(text) : text);
  const last = page.at(-1)?.key;
  const contents: XmlTree[] = page
    .filter((r) => !r.is_prefix)
    .map((r) => ({
      Key: enc(r.key),
      LastModified: new Date(r.metadata?.lastModified ?? r.updated_at ?? 0),
      ETag: r.metadata?.eTag ?? '""',
      Size: r.metadata?.size ?? 0,
      StorageClass: 'STANDARD',
    }));
  const prefixes: XmlTree[] = page.filter((r) => r.is_prefix).map((r) => ({ Prefix: enc(r.key) }));
  const body: XmlTree = {
    Name: bucket,
    Prefix: enc(options.prefix),
    ...(v2
      ? {
          KeyCount: page.length,
          ContinuationToken: options.continuationToken,
          StartAfter: options.startAfter === undefined ? undefined : enc(options.startAfter),
          NextContinuationToken: truncated && last !== undefined ? continuationTokenOf(last) : undefined,
        }
      : {
          Marker: enc(options.startAfter ?? ''),
          NextMarker: truncated && last !== undefined && options.delimiter ? enc(last) : undefined,
        }),
    MaxKeys: options.maxKeys,
    Delimiter: options.delimiter ? enc(options.delimiter) : undefined,
    EncodingType: options.encodingType,
    IsTruncated: truncated,
    Contents: contents,
    CommonPrefixes: prefixes,
  };
  return sendXml(c, xmlDocument('ListBucketResult', body));
}
