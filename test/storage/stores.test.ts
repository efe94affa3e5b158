/**
 * A store per bucket (issue 18 item 3): config.toml's [storage.stores.<name>] and a bucket's
 * `store`; two buckets side by side through supabase-js, one on the local disk (the default
 * store), one on an S3 server on loopback (moto), with uploads, TUS, downloads, ranges, copies
 * and moves between them, and deletes that leave neither store holding bytes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startTestServer, supabaseClient, type TestServer } from '../helpers/server.js';
import { motoBackend, motoMissing, storesToml, type StorageBackend } from '../helpers/storage.js';
import { runCli, tempProject } from '../helpers/cli.js';

const missing = motoMissing();
if (missing) console.log(`skipping the two-store tests: ${missing}`);

let s3: StorageBackend;
let server: TestServer;

const sha = (b: Buffer | Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');

async function localFiles(dir: string): Promise<string[]> {
  const root = path.join(dir, '.trellis', 'storage');
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((f) => f.isFile() && !path.relative(root, f.parentPath).startsWith('.')).map((f) => f.name);
}

describe.skipIf(missing !== undefined)('two buckets on two stores', () => {
  beforeAll(async () => {
    s3 = await motoBackend();
    const endpoint = s3.env.STORAGE_S3_ENDPOINT ?? '';
    server = await startTestServer({ files: { 'supabase/config.toml': storesToml(endpoint) } });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await s3?.stop();
  });

  test('config.toml names the store of each bucket', async () => {
    const rows = await server.sql.query<{ bucket_id: string; store: string }>(
      'select bucket_id, store from trellis.bucket_stores order by bucket_id',
    );
    expect(rows.rows).toEqual([{ bucket_id: 'docs', store: 'cloud' }]);
  });

  test('uploads land in their bucket’s store and read back whole and by range', async () => {
    const supabase = supabaseClient(server, server.serviceRoleKey);
    const photo = crypto.randomBytes(200_000);
    const doc = crypto.randomBytes(300_000);
    expect((await supabase.storage.from('photos').upload('a.bin', photo)).error).toBeNull();
    expect((await supabase.storage.from('docs').upload('b.bin', doc)).error).toBeNull();
    // The photo on the local disk only, the document on S3 only.
    expect(await localFiles(server.dir)).toHaveLength(1);
    const keys = await s3.storedKeys(server.dir);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^docs\/b\.bin\//);

    const photoBack = await supabase.storage.from('photos').download('a.bin');
    const docBack = await supabase.storage.from('docs').download('b.bin');
    expect(sha(Buffer.from(await photoBack.data!.arrayBuffer()))).toBe(sha(photo));
    expect(sha(Buffer.from(await docBack.data!.arrayBuffer()))).toBe(sha(doc));
    const ranged = await fetch(supabase.storage.from('docs').getPublicUrl('b.bin').data.publicUrl, {
      headers: { range: 'bytes=10-19' },
    });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer())).toEqual(doc.subarray(10, 20));
  });

  test('copies and moves between buckets cross stores', async () => {
    const supabase = supabaseClient(server, server.serviceRoleKey);
    const body = crypto.randomBytes(50_000);
    expect((await supabase.storage.from('photos').upload('x.bin', body)).error).toBeNull();
    expect(
      (await supabase.storage.from('photos').copy('x.bin', 'copied.bin', { destinationBucket: 'docs' })).error,
    ).toBeNull();
    expect(
      (await supabase.storage.from('photos').move('x.bin', 'moved.bin', { destinationBucket: 'docs' })).error,
    ).toBeNull();
    for (const name of ['copied.bin', 'moved.bin']) {
      const back = await supabase.storage.from('docs').download(name);
      expect(sha(Buffer.from(await back.data!.arrayBuffer()))).toBe(sha(body));
    }
    // The moved photo's bytes left the local disk.
    expect(await localFiles(server.dir)).toHaveLength(1);
    expect(await s3.storedKeys(server.dir)).toHaveLength(3);
  });

  test('a TUS upload into the S3 bucket is staged locally and lands on S3', async () => {
    const body = crypto.randomBytes(70_000);
    const res = await fetch(`${server.url}/storage/v1/upload/resumable`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${server.serviceRoleKey}`,
        apikey: server.serviceRoleKey,
        'tus-resumable': '1.0.0',
        'upload-length': String(body.length),
        'upload-metadata': `bucketName ${Buffer.from('docs').toString('base64')},objectName ${Buffer.from('tus.bin').toString('base64')}`,
        'content-type': 'application/offset+octet-stream',
      },
      body,
    });
    expect(res.status).toBe(201);
    const back = await supabaseClient(server, server.serviceRoleKey).storage.from('docs').download('tus.bin');
    expect(sha(Buffer.from(await back.data!.arrayBuffer()))).toBe(sha(body));
    expect((await s3.storedKeys(server.dir)).filter((k) => k.startsWith('docs/tus.bin/'))).toHaveLength(1);
  });

  test('config.toml switches an empty bucket only; one that holds objects keeps its store', async () => {
    const toml = path.join(server.dir, 'supabase', 'config.toml');
    const before = await fs.readFile(toml, 'utf8');
    try {
      await fs.writeFile(
        toml,
        before.replace('store = "cloud"', 'store = "default"') + '\n[storage.buckets.empty]\nstore = "cloud"\n',
      );
      const run = await runCli(['migrate', '--dir', server.dir], { DATABASE_URL: server.databaseUrl });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout + run.stderr).toMatch(
        /storage bucket docs stays in store "cloud" \(config.toml names "default"\): it holds objects; `trellis storage move docs --to default` moves them/,
      );
      const rows = await server.sql.query<{ bucket_id: string; store: string }>(
        'select bucket_id, store from trellis.bucket_stores order by bucket_id',
      );
      expect(rows.rows).toEqual([
        { bucket_id: 'docs', store: 'cloud' },
        { bucket_id: 'empty', store: 'cloud' },
      ]);
    } finally {
      await fs.writeFile(toml, before);
    }
  });

  test('deletes remove the bytes from each store', async () => {
    const supabase = supabaseClient(server, server.serviceRoleKey);
    expect(
      (await supabase.storage.from('docs').remove(['b.bin', 'copied.bin', 'moved.bin', 'tus.bin'])).error,
    ).toBeNull();
    expect((await supabase.storage.from('photos').remove(['a.bin'])).error).toBeNull();
    expect(await localFiles(server.dir)).toEqual([]);
    expect(await s3.storedKeys(server.dir)).toEqual([]);
  });
});

describe('[storage.stores] refused when malformed', () => {
  const cases: [string, string, RegExp][] = [
    ['an unknown kind', '[storage.stores.x]\nkind = "ftp"\n', /must be "local" or "s3"/],
    ['a local store without a path', '[storage.stores.x]\nkind = "local"\n', /needs a path/],
    ['an s3 store without a bucket', '[storage.stores.x]\nkind = "s3"\n', /needs the bucket/],
    ['a bad endpoint', '[storage.stores.x]\nkind = "s3"\nbucket = "b"\nendpoint = "ftp://x"\n', /http\(s\) URL/],
    ['the reserved name', '[storage.stores.default]\nkind = "local"\npath = "x"\n', /not a store name/],
    ['a name with a NUL', '[storage.stores."a\\u0000b"]\nkind = "local"\npath = "x"\n', /not a store name/],
    ['a wrong type', '[storage.stores.x]\nkind = "local"\npath = 12\n', /must be a string/],
    ['a bucket naming no store', '[storage.buckets.b]\nstore = "nowhere"\n', /no store "nowhere"/],
  ];
  test.each(cases)('%s', async (_name, toml, problem) => {
    const dir = await tempProject();
    try {
      await fs.writeFile(path.join(dir, 'supabase', 'config.toml'), toml);
      expect(() => loadConfig({ dir }, { DATABASE_URL: 'postgres://x@127.0.0.1/x' })).toThrow(problem);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  test('a local store path is relative to the project folder', async () => {
    const dir = await tempProject();
    try {
      await fs.writeFile(
        path.join(dir, 'supabase', 'config.toml'),
        '[storage.stores.archive]\nkind = "local"\npath = "archive"\n',
      );
      const config = loadConfig({ dir }, { DATABASE_URL: 'postgres://x@127.0.0.1/x' });
      expect(config.storage.stores.archive).toEqual({ kind: 'local', dir: path.join(dir, 'archive') });
      expect(config.storage.stores.default?.kind).toBe('local');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
