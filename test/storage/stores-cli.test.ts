/**
 * `trellis storage verify` (rows without bytes, bytes without rows, per bucket) and
 * `trellis storage move <bucket> --to <store>` (copy, check, switch, remove; resumable), run as a
 * user runs them beside a serving Trellis with a local default store and an S3 store (moto).
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestServer, supabaseClient, type TestServer } from '../helpers/server.js';
import { motoBackend, motoMissing, storesToml, type StorageBackend } from '../helpers/storage.js';

const missing = motoMissing();
if (missing) console.log(`skipping the storage verify/move tests: ${missing}`);

let s3: StorageBackend;
let server: TestServer;
let client: S3Client;

interface Report {
  problems: number;
  buckets: {
    bucket: string;
    store: string;
    objects: number;
    missing: string[];
    orphaned: string[];
    moving?: { from: string; notCopiedYet: number };
  }[];
}

const cli = (...args: string[]) =>
  runCli(['storage', ...args, '--dir', server.dir], { DATABASE_URL: server.databaseUrl }, 120_000);

async function verify(...buckets: string[]): Promise<{ code: number | null; report: Report; stderr: string }> {
  const run = await cli('verify', ...buckets, '--json');
  return { code: run.code, report: JSON.parse(run.stdout) as Report, stderr: run.stderr };
}

async function localFiles(): Promise<string[]> {
  const root = path.join(server.dir, '.trellis', 'storage');
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((f) => f.isFile() && !path.relative(root, f.parentPath).startsWith('.'))
    .map((f) => path.join(f.parentPath, f.name));
}

const sha = (b: Buffer | Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');

describe.skipIf(missing !== undefined)('storage verify and move', () => {
  const bodies = new Map<string, Buffer>();

  beforeAll(async () => {
    s3 = await motoBackend();
    const endpoint = s3.env.STORAGE_S3_ENDPOINT ?? '';
    client = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'moto', secretAccessKey: 'moto' },
    });
    server = await startTestServer({ files: { 'supabase/config.toml': storesToml(endpoint) } });
    const supabase = supabaseClient(server, server.serviceRoleKey);
    for (let i = 0; i < 12; i++) {
      const body = crypto.randomBytes(10_000 + i * 1000);
      bodies.set(`p/${i}.bin`, body);
      expect((await supabase.storage.from('photos').upload(`p/${i}.bin`, body)).error).toBeNull();
    }
    expect((await supabase.storage.from('docs').upload('d.bin', Buffer.from('document'))).error).toBeNull();
  }, 120_000);

  afterAll(async () => {
    client?.destroy();
    await server?.stop();
    await s3?.stop();
  });

  test('verify finds nothing wrong in a healthy project, with progress on stderr', async () => {
    const { code, report, stderr } = await verify();
    expect(code).toBe(0);
    expect(report.problems).toBe(0);
    expect(report.buckets.map((b) => [b.bucket, b.store, b.objects])).toEqual([
      ['docs', 'cloud', 1],
      ['photos', 'default', 12],
    ]);
    expect(stderr).toMatch(/verifying photos/);
    const text = await cli('verify');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/photos \(store default\): 12 objects, 0 without bytes, 0 bytes without a row/);
  });

  test('verify lists rows without bytes and bytes without rows, and exits 1', async () => {
    const files = await localFiles();
    const victim = files[0]!;
    const saved = await fs.readFile(victim);
    await fs.rm(victim);
    const stray = path.join(path.dirname(files[1]!), 'stray.0000');
    await fs.writeFile(stray, 'nobody');
    await client.send(new DeleteObjectCommand({ Bucket: 'trellis', Key: (await s3.storedKeys(server.dir))[0]! }));
    try {
      const { code, report } = await verify();
      expect(code).toBe(1);
      expect(report.problems).toBe(3);
      const photos = report.buckets.find((b) => b.bucket === 'photos')!;
      expect(photos.missing).toHaveLength(1);
      expect(photos.orphaned).toEqual([stray]);
      expect(report.buckets.find((b) => b.bucket === 'docs')!.missing).toEqual(['d.bin']);
      const text = await cli('verify', 'photos');
      expect(text.code).toBe(1);
      expect(text.stdout).toContain(`no row:    ${stray}`);
      expect(text.stdout).toMatch(/2 problems/);
    } finally {
      await fs.writeFile(victim, saved);
      await fs.rm(stray);
      await supabaseClient(server, server.serviceRoleKey).storage.from('docs').remove(['d.bin']);
    }
    expect((await verify()).code).toBe(0);
  });

  test.each([
    [['verify', 'nope'], /no bucket "nope"/],
    [['verify', '--jsn'], /Unknown option '--jsn'/],
    [['verify', 'a\u0001b'], /no bucket/],
    [['move'], /which bucket\?/],
    [['move', 'photos'], /--to names the store/],
    [['move', 'photos', '--to', 'nowhere'], /no store "nowhere"/],
    [['move', 'photos', '--to', 'default'], /is in store "default" already/],
    [['move', 'nope', '--to', 'cloud'], /no bucket "nope"/],
    [['move', 'photos', '--to', 'alias'], /stores "default" and "alias" are the same place/],
    [['move', 'photos', 'docs', '--to', 'cloud'], /unexpected argument "docs"/],
  ])('storage %j is refused', async (args, message) => {
    const run = await cli(...args);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(message);
  });

  test('move copies a bucket to S3, checked, resumes after an interruption, and moves back', async () => {
    const supabase = supabaseClient(server, server.serviceRoleKey);
    // Cut after 5 objects: nothing switched, the copies made so far kept.
    const cut = await runCli(
      ['storage', 'move', 'photos', '--to', 'cloud', '--dir', server.dir],
      { DATABASE_URL: server.databaseUrl, TRELLIS_TEST_STORAGE_MOVE_STOP_AFTER: '5' },
      120_000,
    );
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(/stopped after 5 objects/);
    expect((await s3.storedKeys(server.dir)).filter((k) => k.startsWith('photos/'))).toHaveLength(5);
    expect(await localFiles()).toHaveLength(12);
    // Still served from the local disk meanwhile.
    const during = await supabase.storage.from('photos').download('p/3.bin');
    expect(sha(Buffer.from(await during.data!.arrayBuffer()))).toBe(sha(bodies.get('p/3.bin')!));

    const run = await cli('move', 'photos', '--to', 'cloud');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/7 objects copied, 5 already there \(checked\), 12 removed from default/);
    expect(run.stderr).toMatch(/switched bucket photos to store cloud/);
    expect(await localFiles()).toHaveLength(0);
    expect((await s3.storedKeys(server.dir)).filter((k) => k.startsWith('photos/'))).toHaveLength(12);
    for (const [name, body] of bodies) {
      const back = await supabase.storage.from('photos').download(name);
      expect(sha(Buffer.from(await back.data!.arrayBuffer())), name).toBe(sha(body));
    }
    expect((await verify('photos')).report.buckets[0]).toMatchObject({ store: 'cloud', objects: 12, missing: [] });

    // Back, cut after 5 copies and then as if killed right after its switch: verify counts what
    // is only in the old store yet as not copied (no problem), reads fall back to it, and the
    // next run goes on from the catch-up.
    const cutBack = await runCli(
      ['storage', 'move', 'photos', '--to', 'default', '--dir', server.dir],
      { DATABASE_URL: server.databaseUrl, TRELLIS_TEST_STORAGE_MOVE_STOP_AFTER: '5' },
      120_000,
    );
    expect(cutBack.code).toBe(1);
    await server.sql.query(
      "update trellis.bucket_stores set store = 'default', previous = 'cloud', updated_at = now() where bucket_id = 'photos'",
    );
    const mid = await verify('photos');
    expect(mid.code, JSON.stringify(mid.report)).toBe(0);
    expect(mid.report.buckets[0]).toMatchObject({
      store: 'default',
      missing: [],
      moving: { from: 'cloud', notCopiedYet: 7 },
    });
    await new Promise((resolve) => setTimeout(resolve, 2100)); // the server follows the switch
    for (const [name, body] of bodies) {
      const read = await supabase.storage.from('photos').download(name);
      expect(sha(Buffer.from(await read.data!.arrayBuffer())), name).toBe(sha(body));
    }
    const back = await cli('move', 'photos', '--to', 'default');
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toMatch(
      /from store cloud to default: 7 objects copied, 0 already there \(checked\), 12 removed from cloud/,
    );
    expect(await localFiles()).toHaveLength(12);
    expect((await s3.storedKeys(server.dir)).filter((k) => k.startsWith('photos/'))).toHaveLength(0);
    const one = await supabase.storage.from('photos').download('p/11.bin');
    expect(sha(Buffer.from(await one.data!.arrayBuffer()))).toBe(sha(bodies.get('p/11.bin')!));
    expect((await verify()).code).toBe(0);
  }, 180_000);

  test('uploads and deletes while a move runs all land in the new store', async () => {
    const supabase = supabaseClient(server, server.serviceRoleKey);
    const moving = cli('move', 'photos', '--to', 'cloud');
    const during = new Map<string, Buffer>();
    let i = 0;
    let finished = false;
    void moving.then(() => (finished = true));
    // Writes before, at and after the switch (the move waits ~5 s after it for servers to follow).
    while (!finished && i < 200) {
      const name = `during/${i++}.bin`;
      const body = crypto.randomBytes(2000 + i);
      const { error } = await supabase.storage.from('photos').upload(name, body);
      expect(error).toBeNull();
      during.set(name, body);
      if (i % 5 === 0) {
        const gone = `p/${i / 5 - 1}.bin`;
        if (bodies.delete(gone)) expect((await supabase.storage.from('photos').remove([gone])).error).toBeNull();
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const run = await moving;
    expect(run.code, run.stderr).toBe(0);
    expect(during.size).toBeGreaterThan(10);
    for (const [name, body] of [...bodies, ...during]) {
      const back = await supabase.storage.from('photos').download(name);
      expect(back.error, name).toBeNull();
      expect(sha(Buffer.from(await back.data!.arrayBuffer())), name).toBe(sha(body));
    }
    expect(await localFiles()).toHaveLength(0);
    const report = await verify('photos');
    expect(report.code, JSON.stringify(report.report)).toBe(0);
    expect(report.report.buckets[0]).toMatchObject({ store: 'cloud', objects: bodies.size + during.size });
  }, 180_000);
});
