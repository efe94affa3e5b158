/**
 * A backup target in an S3-compatible bucket (AWS, R2, B2, MinIO). S3 makes an object visible only
 * once its upload completes, and the manifest is uploaded last: a backup without one is incomplete.
 */
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../config.js';
import { createS3Client } from '../platform/s3-client.js';
import { sha256Meter } from '../platform/sha256-meter.js';
import { BACKUP_ID, MissingBackupObject, type BackupListing, type BackupTarget, type TargetObject } from './target.js';

export function createS3Target(url: string, settings: Config['backup']['s3']): BackupTarget {
  const parsed = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!parsed) throw new Error(`bad S3 target ${url}`);
  const Bucket = parsed[1]!;
  const base = parsed[2]!.replace(/\/+$/, '');
  const prefix = base === '' ? '' : `${base}/`;
  const client = createS3Client(settings, 60_000);
  const listAll = async (p: string, delimiter?: string) => {
    const objects: TargetObject[] = [];
    const prefixes: string[] = [];
    let token: string | undefined;
    do {
      const out = await client.send(
        new ListObjectsV2Command({ Bucket, Prefix: prefix + p, ContinuationToken: token, Delimiter: delimiter }),
      );
      for (const o of out.Contents ?? [])
        if (o.Key)
          objects.push({ key: o.Key.slice(prefix.length), size: o.Size ?? 0, modified: o.LastModified ?? new Date(0) });
      for (const cp of out.CommonPrefixes ?? []) if (cp.Prefix) prefixes.push(cp.Prefix.slice(prefix.length));
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return { objects, prefixes };
  };
  const target: BackupTarget = {
    where: url,
    async put(key, body) {
      const counter = sha256Meter();
      const through = new PassThrough();
      const flowing = pipeline(body, counter, through);
      const upload = new Upload({
        client,
        params: { Bucket, Key: prefix + key, Body: through },
        queueSize: 2,
        partSize: 8 * 1024 * 1024,
        leavePartsOnError: false,
      });
      await Promise.all([upload.done(), flowing]);
      return counter.result();
    },
    async get(key) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket, Key: prefix + key }));
        return out.Body as Readable;
      } catch (err) {
        if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey')
          throw new MissingBackupObject(key);
        throw err;
      }
    },
    async list(p) {
      return (await listAll(p)).objects.sort((a, b) => (a.key < b.key ? -1 : 1));
    },
    async delete(keys) {
      for (let i = 0; i < keys.length; i += 1000) {
        const Objects = keys.slice(i, i + 1000).map((k) => ({ Key: prefix + k }));
        if (Objects.length > 0)
          await client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects, Quiet: true } }));
      }
    },
    async exists(key) {
      try {
        await client.send(new HeadObjectCommand({ Bucket, Key: prefix + key }));
        return true;
      } catch (err) {
        const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return false;
        throw err;
      }
    },
    stagingKey: (id, piece) => `${id}/${piece}`,
    async complete(id, manifest) {
      await target.put(`${id}/manifest.json`, Readable.from([manifest]));
    },
    async backups() {
      const { prefixes } = await listAll('', '/');
      const out: BackupListing[] = [];
      for (const p of prefixes) {
        const id = p.replace(/\/$/, '');
        if (!BACKUP_ID.test(id)) continue;
        out.push({ id, complete: await target.exists(`${id}/manifest.json`) });
      }
      return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },
    async removeBackup(id) {
      // The manifest first: a backup half-deleted is never taken for a complete one.
      await target.delete([`${id}/manifest.json`]);
      await target.delete((await target.list(`${id}/`)).map((o) => o.key));
    },
    close: async () => client.destroy(),
  };
  return target;
}
