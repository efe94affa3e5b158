/**
 * Sending an object: the headers a CDN needs (Content-Type, Content-Length, ETag, Last-Modified,
 * Cache-Control), conditional requests (If-None-Match, If-Modified-Since) and single byte ranges.
 * The bytes are piped from the store straight into Node's response: no copy in memory.
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Tx } from '../db/index.js';
import { corsHeaders, headerOf } from '../platform/http.js';
import { nodeResponse, type StorageContext, type StorageHttp } from './context.js';
import { StorageErrors } from './errors.js';
import { MissingObject, type ByteRange } from '../platform/store/index.js';
import type { ObjectMetadata } from './upload.js';

export interface ObjectRow {
  readonly id: string;
  readonly bucket_id: string;
  readonly name: string;
  readonly version: string | null;
  readonly metadata: ObjectMetadata | null;
  readonly user_metadata: Record<string, unknown> | null;
  readonly owner_id: string | null;
  readonly created_at: Date;
  readonly updated_at: Date;
  readonly last_accessed_at: Date;
}

const ROW_COLUMNS =
  'id, bucket_id, name, version, metadata, user_metadata, owner_id, created_at, updated_at, last_accessed_at';

/** The object's row as `tx` sees it (the caller under RLS, or the server). */
export async function findObject(
  tx: Pick<Tx, 'query'>,
  bucket: string,
  name: string,
  forUpdate = false,
): Promise<ObjectRow> {
  const lock = forUpdate ? ' for update' : '';
  const row = (
    await tx.query<ObjectRow>(`select ${ROW_COLUMNS} from storage.objects where bucket_id = $1 and name = $2${lock}`, [
      bucket,
      name,
    ])
  ).rows[0];
  if (!row || !row.version) throw StorageErrors.objectNotFound();
  return row;
}

/** The object's response headers, shared by GET and HEAD. */
export function objectHeaders(row: ObjectRow, download: string | undefined): Record<string, string> {
  const meta = row.metadata;
  const headers: Record<string, string> = {
    'content-type': meta?.mimetype || 'application/octet-stream',
    'cache-control': meta?.cacheControl || 'no-cache',
    etag: meta?.eTag ?? `"${row.version}"`,
    'last-modified': new Date(meta?.lastModified ?? row.updated_at).toUTCString(),
    'accept-ranges': 'bytes',
  };
  if (download !== undefined) {
    const filename = download === '' ? (row.name.split('/').pop() ?? row.name) : download;
    headers['content-disposition'] =
      `attachment; filename="${filename.replace(/["\\\r\n]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
  }
  return headers;
}

/** Answers GET/HEAD for an object the caller may read. */
export async function sendObject(
  ctx: StorageContext,
  c: StorageHttp,
  row: ObjectRow,
  extraHeaders: Record<string, string> = {},
): Promise<Response> {
  const size = row.metadata?.size ?? 0;
  const headers = { ...objectHeaders(row, c.req.query('download')), ...extraHeaders };
  if (notModified(c, headers)) return sendRaw(c, 304, headers);
  let range: ByteRange | undefined;
  const asked = headerOf(c, 'range');
  if (asked !== undefined) {
    const parsed = parseRange(asked, size);
    if (parsed === 'unsatisfiable') {
      return sendRaw(
        c,
        416,
        { 'content-range': `bytes */${size}`, 'content-type': 'application/json' },
        undefined,
        JSON.stringify({
          statusCode: '416',
          code: 'InvalidRange',
          error: 'invalid_range',
          message: 'invalid range provided',
        }),
      );
    }
    range = parsed;
  }
  const length = range ? range.end - range.start + 1 : size;
  const status = range ? 206 : 200;
  const sent = {
    ...headers,
    'content-length': String(length),
    ...(range && { 'content-range': `bytes ${range.start}-${range.end}/${size}` }),
  };
  if (c.req.method === 'HEAD') return sendRaw(c, status, sent);
  // An empty object has no bytes to range over; the store is not asked for them.
  if (length === 0) return sendRaw(c, status, sent);
  const stream = await ctx.store
    .read({ bucket: row.bucket_id, name: row.name, version: row.version as string }, range)
    .catch((err: unknown) => {
      if (err instanceof MissingObject) throw StorageErrors.objectNotFound();
      throw err;
    });
  return sendRaw(c, status, sent, stream);
}

/**
 * A stream is written on Node's own response object (no WHATWG stream in between); anything else
 * is an ordinary Hono response (HEAD among them: Hono rebuilds HEAD responses, so they cannot be
 * sent past it).
 */
export function sendRaw(
  c: StorageHttp,
  status: number,
  headers: Record<string, string>,
  stream?: Readable,
  body?: string | Buffer,
): Response {
  if (!stream) {
    if (body === undefined) return c.body(null, status as 200, headers);
    return c.body(typeof body === 'string' ? body : new Uint8Array(body), status as 200, headers);
  }
  const res = nodeResponse(c);
  const cors = corsHeaders(c);
  const limits = c.get('rateLimitHeaders') ?? {};
  res.writeHead(status, { ...headers, ...cors, ...limits, 'x-request-id': c.get('requestId') });
  pipeline(stream, res, () => undefined);
  // The request id and CORS headers were written above; a header left on the context would make
  // Hono build a new response around RESPONSE_ALREADY_SENT, which @hono/node-server would then
  // try to send again.
  c.header('x-request-id', undefined);
  for (const name of [...Object.keys(cors), ...Object.keys(limits)]) c.header(name, undefined);
  return RESPONSE_ALREADY_SENT;
}

function notModified(c: StorageHttp, headers: Record<string, string>): boolean {
  const ifNoneMatch = headerOf(c, 'if-none-match');
  if (ifNoneMatch !== undefined) {
    const etag = headers.etag ?? '';
    return ifNoneMatch.split(',').some((tag) => {
      const t = tag.trim();
      return t === '*' || t === etag || t === `W/${etag}`;
    });
  }
  const since = headerOf(c, 'if-modified-since');
  if (since !== undefined) {
    const sinceMs = Date.parse(since);
    const modifiedMs = Date.parse(headers['last-modified'] ?? '');
    return !Number.isNaN(sinceMs) && !Number.isNaN(modifiedMs) && modifiedMs <= sinceMs;
  }
  return false;
}

/**
 * One byte range (`bytes=0-99`, `bytes=100-`, `bytes=-100`); anything else (several ranges, other
 * units) is ignored and the whole object sent, as RFC 9110 allows.
 */
export function parseRange(header: string, size: number): ByteRange | 'unsatisfiable' | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}
