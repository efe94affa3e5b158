/**
 * The files of the dump's storage.objects rows, copied into Trellis's object store before the rows
 * are inserted. Each is stored under the row's version (a fresh one when the row has none) and
 * its metadata gets what Trellis's upload records (eTag, size, contentLength from the bytes
 * actually stored). A row whose file is found nowhere is not imported: Trellis never keeps a row
 * without bytes (see src/storage/upload.ts). The keys written are kept so a rollback removes them.
 */
import crypto from 'node:crypto';
import type pg from 'pg';
import { FatalError } from '../errors.js';
import type { Progress, ProgressOptions } from '../platform/progress.js';
import type { ObjectKey, ObjectStore } from '../platform/store/index.js';
import type { Stage } from './pg-dump-managed.js';
import type { StorageCopy } from './pg-dump-report.js';
import type { StorageSource } from './pg-dump-storage.js';

export interface ObjectCopyContext {
  readonly source: StorageSource | undefined;
  readonly store: ObjectStore | undefined;
  readonly progress: (label: string, options: ProgressOptions) => Progress;
  readonly report: StorageCopy;
  readonly warnings: string[];
  /** Keys written so far: removed again if the import fails. */
  readonly written: ObjectKey[];
}

interface StagedObject {
  readonly row: string;
  readonly bucket_id: string | null;
  readonly name: string | null;
  readonly version: string | null;
  readonly mimetype: string | null;
}

const PARALLEL = 4;

export async function copyObjectFiles(client: pg.ClientBase, stage: Stage, ctx: ObjectCopyContext): Promise<void> {
  for (const column of ['bucket_id', 'name'])
    if (!stage.sourceColumns.includes(column))
      throw new FatalError(`storage.objects rows without a ${column} column cannot be imported`);
  const has = (c: string) => stage.sourceColumns.includes(c);
  const objects = (
    await client.query<StagedObject>(
      `select ctid::text as row, bucket_id, name, ${has('version') ? 'version' : 'null'} as version,
              ${has('metadata') ? "metadata->>'mimetype'" : 'null'} as mimetype
         from ${stage.name}`,
    )
  ).rows;
  ctx.report.objects += objects.length;
  if (!ctx.source || !ctx.store) {
    if (objects.length > 0)
      ctx.warnings.push(
        `${objects.length} storage.objects rows not imported: give --storage-dir or --storage-s3 with their files`,
      );
    await client.query(`delete from ${stage.name}`);
    return;
  }
  const { source, store } = ctx;
  const bar = ctx.progress('storage files', { total: objects.length, unit: 'files' });
  const missing: string[] = [];
  const updates: { row: string; version: string; size: number; md5: string }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < objects.length) {
      const object = objects[next++] as StagedObject;
      const bucket = object.bucket_id ?? '';
      const name = object.name ?? '';
      const body = await source.open(bucket, name, object.version);
      if (!body) {
        missing.push(object.row);
        ctx.report.missing.push(`${bucket}/${name}`);
        bar.tick(1);
        continue;
      }
      const key: ObjectKey = { bucket, name, version: object.version ?? crypto.randomUUID() };
      const written = await store.write(key, body, {
        maxBytes: Number.MAX_SAFE_INTEGER,
        contentType: object.mimetype ?? 'application/octet-stream',
      });
      ctx.written.push(key);
      ctx.report.files++;
      ctx.report.bytes += written.size;
      updates.push({ row: object.row, version: key.version, size: written.size, md5: written.md5 });
      bar.tick(1);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(PARALLEL, objects.length) }, worker));
  } catch (err) {
    bar.fail((err as Error).message);
    throw new FatalError(`copying storage object files from ${source.label}: ${(err as Error).message}`);
  }
  const bytes = `${ctx.report.bytes.toLocaleString('en-US')} bytes`;
  bar.done(missing.length > 0 ? `${bytes}; ${missing.length} without a file` : bytes);
  if (missing.length > 0) await client.query(`delete from ${stage.name} where ctid = any($1::tid[])`, [missing]);
  await applyStoredVersions(client, stage, updates);
}

/** One statement for all rows: each row gets its stored version and the stored bytes' size and eTag. */
async function applyStoredVersions(
  client: pg.ClientBase,
  stage: Stage,
  updates: readonly { row: string; version: string; size: number; md5: string }[],
): Promise<void> {
  if (updates.length === 0) return;
  const has = (c: string) => stage.sourceColumns.includes(c);
  if (!has('version')) await client.query(`alter table ${stage.name} add column version text`);
  if (!has('metadata')) await client.query(`alter table ${stage.name} add column metadata jsonb`);
  const pairs = stage.pairs as [string, string][];
  if (!pairs.some(([, t]) => t === 'version')) pairs.push(['version', 'version']);
  if (!pairs.some(([, t]) => t === 'metadata')) pairs.push(['metadata', 'metadata']);
  // Supabase's keys, as src/storage/upload.ts writes them; the dump's own values win for the rest.
  await client.query(
    `update ${stage.name} s set version = u.version,
            metadata = pg_catalog.jsonb_build_object('mimetype', 'application/octet-stream', 'cacheControl', 'no-cache',
                         'lastModified', pg_catalog.to_char(pg_catalog.now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                         'httpStatusCode', 200)
                       || coalesce(s.metadata, '{}'::jsonb)
                       || pg_catalog.jsonb_build_object('eTag', '"' || u.md5 || '"', 'size', u.size, 'contentLength', u.size)
       from rows from (pg_catalog.unnest($1::tid[]), pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::bigint[]),
                      pg_catalog.unnest($4::text[])) as u(row, version, size, md5)
      where s.ctid = u.row`,
    [updates.map((u) => u.row), updates.map((u) => u.version), updates.map((u) => u.size), updates.map((u) => u.md5)],
  );
}

/** --dry-run: which of the dump's storage.objects rows (COPY fields) have a file in the source. */
export async function findObjectFiles(
  source: StorageSource,
  columns: readonly string[],
  rows: readonly (readonly (string | null)[])[],
  report: StorageCopy,
): Promise<void> {
  const [b, n, v] = ['bucket_id', 'name', 'version'].map((c) => columns.indexOf(c)) as [number, number, number];
  for (const row of rows) {
    const bucket = row[b] ?? '';
    const name = row[n] ?? '';
    report.objects++;
    const body = await source.open(bucket, name, v === -1 ? null : (row[v] ?? null));
    if (body) {
      body.destroy();
      report.files++;
    } else report.missing.push(`${bucket}/${name}`);
  }
}
