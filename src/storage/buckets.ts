/** /bucket: create, get, list, update, empty and delete buckets, each as the caller under RLS. */
import type { Tx } from '../db/index.js';
import { nulMessage } from '../platform/body.js';
import { asCaller, callerClaims, ownerOf, readJsonBody, type StorageContext, type StorageHttp } from './context.js';
import { StorageErrors } from './errors.js';
import { parseFileSizeLimit, validBucketId } from './names.js';
import type { ObjectKey } from '../platform/store/index.js';
import { respondJson } from '../platform/json.js';

const BUCKET_COLUMNS = `id, name, coalesce(owner_id, owner::text, '') as owner, public, file_size_limit::float8 as file_size_limit, allowed_mime_types, avif_autodetection, type, created_at, updated_at`;
// GET /bucket/<id> answers with fewer columns than the list (storage-api's findBucket selection).
const ONE_BUCKET_COLUMNS = `id, name, coalesce(owner_id, owner::text, '') as owner, public, file_size_limit::float8 as file_size_limit, allowed_mime_types, created_at, updated_at`;
const SORTABLE = new Set(['id', 'name', 'created_at', 'updated_at']);

export async function listBuckets(ctx: StorageContext, c: StorageHttp) {
  const claims = await callerClaims(ctx, c);
  const limit = optionalInt(c.req.query('limit'), 'limit');
  const offset = optionalInt(c.req.query('offset'), 'offset') ?? 0;
  const search = c.req.query('search') ?? '';
  if (search.includes('\u0000')) throw StorageErrors.invalidRequest(nulMessage('search'));
  const column = c.req.query('sortColumn') ?? 'name';
  const order = (c.req.query('sortOrder') ?? 'asc').toLowerCase();
  if (!SORTABLE.has(column))
    throw StorageErrors.invalidRequest(`sortColumn must be one of ${[...SORTABLE].join(', ')}`);
  if (order !== 'asc' && order !== 'desc') throw StorageErrors.invalidRequest('sortOrder must be asc or desc');
  // `column` and `order` are checked against fixed lists above; values are parameters.
  const rows = await asCaller(
    ctx,
    c,
    claims,
    async (tx) =>
      (
        await tx.query(
          `select ${BUCKET_COLUMNS} from storage.buckets where ($1 = '' or name ilike '%' || replace(replace(replace($1, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%') order by ${column} ${order}, id limit $2 offset $3`,
          [search, limit ?? null, offset],
        )
      ).rows,
    true,
  );
  return respondJson(c, rows);
}

export async function getBucket(ctx: StorageContext, c: StorageHttp) {
  const claims = await callerClaims(ctx, c);
  const id = validBucketId(c.req.param('id'));
  const row = await asCaller(
    ctx,
    c,
    claims,
    async (tx) => (await tx.query(`select ${ONE_BUCKET_COLUMNS} from storage.buckets where id = $1`, [id])).rows[0],
    true,
  );
  if (!row) throw StorageErrors.bucketNotFound();
  return respondJson(c, row);
}

export async function createBucket(ctx: StorageContext, c: StorageHttp) {
  const claims = await callerClaims(ctx, c);
  const body = await readJsonBody(c);
  const name = validBucketId(body.name ?? body.id);
  const id = validBucketId(body.id ?? name);
  const limit = parseFileSizeLimit(body.file_size_limit);
  const mimes = mimeList(body.allowed_mime_types);
  const owner = ownerOf(claims);
  await asCaller(ctx, c, claims, (tx) =>
    tx.query(
      'insert into storage.buckets (id, name, owner, owner_id, public, file_size_limit, allowed_mime_types) values ($1, $2, $3, $4, $5, $6, $7)',
      [id, name, owner, typeof claims.sub === 'string' ? claims.sub : null, body.public === true, limit, mimes],
    ),
  );
  return respondJson(c, { name: id });
}

export async function updateBucket(ctx: StorageContext, c: StorageHttp) {
  const claims = await callerClaims(ctx, c);
  const id = validBucketId(c.req.param('id'));
  const body = await readJsonBody(c);
  const sets: string[] = [];
  const values: unknown[] = [id];
  const set = (column: string, value: unknown) => {
    values.push(value);
    sets.push(`${column} = $${values.length}`);
  };
  if (body.public !== undefined) set('public', body.public === true);
  if (body.file_size_limit !== undefined) set('file_size_limit', parseFileSizeLimit(body.file_size_limit));
  if (body.allowed_mime_types !== undefined) set('allowed_mime_types', mimeList(body.allowed_mime_types));
  sets.push('updated_at = now()');
  const updated = await asCaller(
    ctx,
    c,
    claims,
    async (tx) =>
      (await tx.query(`update storage.buckets set ${sets.join(', ')} where id = $1 returning id`, values)).rowCount,
  );
  if (!updated) throw StorageErrors.bucketNotFound();
  return respondJson(c, { message: 'Successfully updated' });
}

export async function emptyBucket(ctx: StorageContext, c: StorageHttp) {
  const claims = await callerClaims(ctx, c);
  const id = validBucketId(c.req.param('id'));
  const removed = await asCaller(ctx, c, claims, async (tx) => {
    if ((await tx.query('select 1 from storage.buckets where id = $1', [id])).rowCount === 0)
      throw StorageErrors.bucketNotFound();
    return deleteObjectRows(tx, 'bucket_id = $1', [id]);
  });
  // After the commit: a failed removal leaves unreferenced bytes, never a row without its bytes.
  await ctx.store.remove(removed);
  // storage-api's words: it empties in a background job; here the bucket is already empty.
  return respondJson(c, { message: 'Empty bucket has been queued. Completion may take up to an hour.' });
}

export async function deleteBucket(ctx: StorageContext, c: StorageHttp) {
  const claims = await callerClaims(ctx, c);
  const id = validBucketId(c.req.param('id'));
  // Counted as the server: an object the caller cannot see still keeps the bucket (storage-api does the same).
  const objects = await ctx.services.db.query('select 1 from storage.objects where bucket_id = $1 limit 1', [id]);
  if ((objects.rowCount ?? 0) > 0) throw StorageErrors.bucketNotEmpty();
  const deleted = await asCaller(ctx, c, claims, async (tx) => {
    try {
      return (await tx.query('delete from storage.buckets where id = $1', [id])).rowCount;
    } catch (err) {
      // An object uploaded since the count.
      if ((err as { code?: string }).code === '23503') throw StorageErrors.bucketNotEmpty();
      throw err;
    }
  });
  if (!deleted) throw StorageErrors.bucketNotFound();
  return respondJson(c, { message: 'Successfully deleted' });
}

/** Deletes object rows matching `where` as the caller; the stored keys to remove after commit. */
export async function deleteObjectRows(tx: Tx, where: string, values: unknown[]): Promise<ObjectKey[]> {
  const rows = (
    await tx.query<{ bucket_id: string; name: string; version: string | null }>(
      `delete from storage.objects where ${where} returning bucket_id, name, version`,
      values,
    )
  ).rows;
  return rows
    .filter((r) => r.version)
    .map((r) => ({ bucket: r.bucket_id, name: r.name, version: r.version as string }));
}

function mimeList(value: unknown): string[] | null {
  if (value === null || value === undefined) return null;
  if (!Array.isArray(value) || !value.every((m) => typeof m === 'string' && /^[\w.+*-]+\/[\w.+*-]+$/.test(m))) {
    throw StorageErrors.invalidRequest('allowed_mime_types must be a list of MIME types like image/png or image/*');
  }
  return value.length === 0 ? null : (value as string[]);
}

function optionalInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,9}$/.test(value)) throw StorageErrors.invalidRequest(`${name} must be a whole number`);
  return Number(value);
}
