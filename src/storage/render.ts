/**
 * Image transformations on download (/render/image/...), through sharp: width, height, resize
 * mode (cover, contain, fill), quality and format (origin, webp, avif, png, jpeg). The object is
 * read into memory only up to STORAGE_IMAGE_MAX_INPUT_BYTES; larger ones are refused.
 */
import type { Sharp } from 'sharp';
import { buffer } from 'node:stream/consumers';
import type { StorageContext, StorageHttp } from './context.js';
import { StorageErrors, storageError } from './errors.js';
import type { ObjectRow } from './serve.js';
import { objectHeaders, sendRaw } from './serve.js';

export interface Transform {
  readonly width?: number;
  readonly height?: number;
  readonly resize: 'cover' | 'contain' | 'fill';
  /** Unset: the encoder's default (80). */
  readonly quality?: number;
  readonly format: 'origin' | 'webp' | 'avif' | 'png' | 'jpeg';
}

const MAX_DIMENSION = 2500;
const FORMATS = new Set(['origin', 'webp', 'avif', 'png', 'jpeg', 'jpg']);

/** The transform a query string (or a signed token's `transformations`) asks for. */
export function parseTransform(params: URLSearchParams): Transform {
  const dimension = (name: string): number | undefined => {
    const raw = params.get(name);
    if (raw === null || raw === '') return undefined;
    if (!/^\d{1,5}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_DIMENSION) {
      throw StorageErrors.imageError(`${name} must be a whole number between 1 and ${MAX_DIMENSION}`);
    }
    return Number(raw);
  };
  const resize = params.get('resize') ?? 'cover';
  if (resize !== 'cover' && resize !== 'contain' && resize !== 'fill')
    throw StorageErrors.imageError('resize must be cover, contain or fill');
  const qualityRaw = params.get('quality');
  const quality = qualityRaw === null ? undefined : Number(qualityRaw);
  if (quality !== undefined && (!Number.isInteger(quality) || quality < 20 || quality > 100))
    throw StorageErrors.imageError('quality must be a whole number between 20 and 100');
  const format = (params.get('format') ?? 'origin').toLowerCase();
  if (!FORMATS.has(format)) throw StorageErrors.imageError('format must be origin, webp, avif, png or jpeg');
  return {
    width: dimension('width'),
    height: dimension('height'),
    resize,
    quality,
    format: (format === 'jpg' ? 'jpeg' : format) as Transform['format'],
  };
}

/** The transform as a signed token carries it (`width:100,height:50`), in storage-api's form. */
export function encodeTransform(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const params = new URLSearchParams();
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (
      ['width', 'height', 'resize', 'quality', 'format'].includes(key) &&
      (typeof v === 'string' || typeof v === 'number')
    )
      params.set(key, String(v));
  }
  parseTransform(params);
  return params.toString() || undefined;
}

export async function sendTransformed(
  ctx: StorageContext,
  c: StorageHttp,
  row: ObjectRow,
  transform: Transform,
): Promise<Response> {
  const headers = objectHeaders(row, c.req.query('download'));
  // The transformed image's tag: the object's, marked with the transform, so a CDN can revalidate.
  const etag = `${(headers.etag ?? '""').replace(/"$/, '')}-${transformTag(transform)}"`;
  if (
    c.req
      .header('if-none-match')
      ?.split(',')
      .some((t) => t.trim() === etag)
  )
    return sendRaw(c, 304, { ...headers, etag });
  const size = row.metadata?.size ?? 0;
  const limit = ctx.services.config.storage.imageMaxInputBytes;
  if (size > limit)
    throw storageError(
      413,
      'EntityTooLarge',
      'Payload too large',
      `The image is larger than ${limit} bytes, the most the transformer reads`,
    );
  const stream = await ctx.store.read({ bucket: row.bucket_id, name: row.name, version: row.version as string });
  const input = await buffer(stream);
  // Loaded on the first transform: sharp (libvips) adds about 0.15 s to every start otherwise.
  const { default: sharp } = await import('sharp');
  let image: Sharp = sharp(input, { limitInputPixels: 100_000_000, failOn: 'error' }).rotate();
  if (transform.width !== undefined || transform.height !== undefined) {
    image = image.resize({
      width: transform.width,
      height: transform.height,
      fit: transform.resize,
      withoutEnlargement: false,
    });
  }
  const q = transform.quality ?? 80;
  let output: Buffer;
  let format: string;
  try {
    // "origin" keeps the format of the bytes, whatever content type the object was stored with.
    const target = transform.format === 'origin' ? (await image.metadata()).format : transform.format;
    if (target === 'webp') image = image.webp({ quality: q });
    else if (target === 'avif' || target === 'heif') image = image.avif({ quality: q });
    else if (target === 'png') image = image.png();
    else if (target === 'jpeg') image = image.jpeg({ quality: q });
    const result = await image.toBuffer({ resolveWithObject: true });
    output = result.data;
    format = result.info.format;
  } catch (err) {
    throw StorageErrors.imageError(`The object is not an image sharp can transform: ${(err as Error).message}`);
  }
  const extra: Record<string, string> = {};
  const applied = appliedTransformations(transform);
  if (applied) extra['x-transformations'] = applied;
  return sendRaw(
    c,
    200,
    { ...headers, ...extra, 'content-type': mimeOf(format), 'content-length': String(output.length), etag },
    undefined,
    output,
  );
}

function transformTag(t: Transform): string {
  return `${t.width ?? ''}x${t.height ?? ''}.${t.resize}.${t.quality ?? 80}.${t.format}`;
}

/** The content type of what sharp wrote; its AVIF is reported as "heif" (the prebuilt libvips writes no HEVC). */
function mimeOf(format: string): string {
  if (format === 'heif') return 'image/avif';
  if (format === 'svg') return 'image/svg+xml';
  return `image/${format}`;
}

// storage-api's (imgproxy's) names for the resize modes.
const RESIZING_TYPE = { cover: 'fill', contain: 'fit', fill: 'force' } as const;

/** The X-Transformations header storage-api sends: what was asked, in its order and words. */
export function appliedTransformations(t: Transform): string | undefined {
  const parts: string[] = [];
  if (t.height !== undefined) parts.push(`height:${t.height}`);
  if (t.width !== undefined) parts.push(`width:${t.width}`);
  if (t.width !== undefined || t.height !== undefined) parts.push(`resizing_type:${RESIZING_TYPE[t.resize]}`);
  if (t.quality !== undefined) parts.push(`quality:${t.quality}`);
  if (t.format !== 'origin') parts.push(`format:${t.format}`);
  return parts.length > 0 ? parts.join(',') : undefined;
}
