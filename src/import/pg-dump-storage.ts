/**
 * Where a Supabase project's object files are read from: a folder or an S3 prefix. Both take the
 * layout `supabase storage cp -r` or an S3 download gives (`<bucket>/<object name>`) and the one
 * storage-api's backends write (`<bucket>/<object name>/<version>`, under a tenant folder for the
 * file backend: `<tenant>/<bucket>/<object name>/<version>`).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { FatalError } from '../errors.js';

export interface S3Source {
  /** `s3://bucket/prefix`. */
  readonly url: string;
  readonly endpoint?: string;
  readonly region: string;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  /** Path-style URLs (MinIO, s3rver); on whenever an endpoint is given. */
  readonly forcePathStyle?: boolean;
}

export interface StorageSource {
  readonly label: string;
  /** The object's bytes, or undefined when no layout has them. */
  open(bucket: string, name: string, version: string | null): Promise<Readable | undefined>;
  close(): Promise<void>;
}

export async function openStorageSource(given: { dir?: string; s3?: S3Source }): Promise<StorageSource> {
  if (given.s3) return openS3Source(given.s3);
  if (given.dir === undefined) throw new FatalError('no storage source given');
  return openFolderSource(given.dir);
}

async function openFolderSource(dir: string): Promise<StorageSource> {
  const root = path.resolve(dir);
  const stat = await fsp.stat(root).catch(() => undefined);
  if (!stat?.isDirectory()) throw new FatalError(`${dir}: not a folder`, '--storage-dir');
  // Tenant folders of storage-api's file backend, tried after the plain layouts.
  const tops = (await fsp.readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  const inside = (...parts: string[]): string | undefined => {
    const file = path.resolve(root, ...parts);
    // An object name with `..` segments must not read outside the folder.
    return file.startsWith(root + path.sep) ? file : undefined;
  };
  const fileAt = async (file: string | undefined): Promise<string | undefined> => {
    if (file === undefined) return undefined;
    const s = await fsp.stat(file).catch(() => undefined);
    return s?.isFile() ? file : undefined;
  };
  return {
    label: root,
    async open(bucket, name, version) {
      const candidates = [inside(bucket, name)];
      if (version) {
        candidates.push(inside(bucket, name, version));
        for (const tenant of tops) if (tenant !== bucket) candidates.push(inside(tenant, bucket, name, version));
      }
      for (const candidate of candidates) {
        const file = await fileAt(candidate);
        if (file) return fs.createReadStream(file);
      }
      return undefined;
    },
    close: async () => undefined,
  };
}

export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m?.[1]) throw new FatalError(`must look like s3://bucket/prefix (got "${url}")`, '--storage-s3');
  return { bucket: m[1], prefix: (m[2] ?? '').replace(/\/+$/, '') };
}

async function openS3Source(settings: S3Source): Promise<StorageSource> {
  const { bucket: Bucket, prefix } = parseS3Url(settings.url);
  // Loaded only when used, as the store does: the SDK is slow to load.
  const [{ GetObjectCommand }, { createS3Client }] = await Promise.all([
    import('@aws-sdk/client-s3'),
    import('../platform/s3-client.js'),
  ]);
  const client = createS3Client(
    { ...settings, forcePathStyle: settings.forcePathStyle ?? settings.endpoint !== undefined },
    60_000,
  );
  const keyOf = (...parts: string[]) => (prefix ? [prefix, ...parts] : parts).join('/');
  return {
    label: settings.url,
    async open(bucket, name, version) {
      const keys = [keyOf(bucket, name), ...(version ? [keyOf(bucket, name, version)] : [])];
      for (const Key of keys) {
        try {
          const out = await client.send(new GetObjectCommand({ Bucket, Key }));
          return out.Body as Readable;
        } catch (err) {
          const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
          if (e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404) continue;
          throw new FatalError(`${settings.url}: reading ${Key} failed: ${(err as Error).message}`, '--storage-s3');
        }
      }
      return undefined;
    },
    close: async () => client.destroy(),
  };
}
