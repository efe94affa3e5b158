/** An S3-compatible target (s3rver): backup, list and restore round trip, with the WAL in the bucket. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { tempProject } from '../helpers/cli.js';
import { trellis, withPg } from './helpers.js';
import { startCli } from '../helpers/cli.js';
import { statusOf } from './helpers.js';

let s3: S3rver;
let env: Record<string, string>;
let client: S3Client;
const cleanup: string[] = [];

beforeAll(async () => {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-s3rver-backup-'));
  cleanup.push(directory);
  s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: 'backups' }] });
  const { port } = await s3.run();
  const endpoint = `http://127.0.0.1:${port}`;
  env = {
    BACKUP_TARGET: 's3://backups/project-one',
    BACKUP_S3_ENDPOINT: endpoint,
    BACKUP_S3_ACCESS_KEY_ID: 'S3RVER',
    BACKUP_S3_SECRET_ACCESS_KEY: 'S3RVER',
    BACKUP_S3_FORCE_PATH_STYLE: 'true',
  };
  client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
});

afterAll(async () => {
  client?.destroy();
  await s3?.close();
  for (const d of cleanup) await fs.rm(d, { recursive: true, force: true });
});

test('backup to an S3 bucket and restore from it', async () => {
  const dir = await tempProject({
    '20260101000000_notes.sql': `create table public.notes (id int primary key, body text);
      insert into public.notes select i, md5(i::text) from generate_series(1, 500) i;`,
  });
  cleanup.push(dir);
  expect((await trellis(['migrate', '--dir', dir], env)).code).toBe(0);
  // What a backup killed half-way leaves in a bucket: pieces without the manifest.
  const dead = '20260101T000000000Z';
  await client.send(new PutObjectCommand({ Bucket: 'backups', Key: `project-one/${dead}/base.tar.gz`, Body: 'half' }));
  const before = await trellis(['backup', 'list', '--dir', dir], env);
  expect(before.stdout).toContain(`${dead}  INCOMPLETE`);
  const refused = await trellis(['restore', '--from', `s3://backups/project-one/${dead}`, '--dir', `${dir}-no`], env);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(`backup ${dead} is incomplete`);

  const made = await trellis(['backup', '--dir', dir], env);
  expect(made.code, made.stderr).toBe(0);
  expect(made.stderr).toContain('removed 1 incomplete backup');
  const id = /backup (\S+) complete in s3:\/\/backups\/project-one/.exec(made.stdout)?.[1];
  expect(id).toBeDefined();

  const keys: string[] = [];
  const listed = await client.send(new ListObjectsV2Command({ Bucket: 'backups', Prefix: 'project-one/' }));
  for (const o of listed.Contents ?? []) keys.push(o.Key!);
  expect(keys).toContain(`project-one/${id}/manifest.json`);
  expect(keys).toContain(`project-one/${id}/base.tar.gz`);
  expect(keys.some((k) => k.startsWith(`project-one/${dead}/`))).toBe(false);
  expect(keys.some((k) => /^project-one\/wal\/\d+\/[0-9A-F]{24}\.gz-[0-9a-f]{64}$/.test(k))).toBe(true);

  const list = await trellis(['backup', 'list', '--dir', dir], env);
  expect(list.stdout).toContain(`${id}  complete`);

  // The running server ships new WAL to the bucket: rows written after the backup are restored too.
  const running = await startCli(dir, { ...env, BACKUP_SHIP_INTERVAL: '1' });
  try {
    const s = await statusOf(dir);
    const wal = await withPg(s.DB_URL, async (c) => {
      await c.query('insert into public.notes select i, md5(i::text) from generate_series(501, 600) i');
      return (await c.query<{ wal: string }>('select pg_walfile_name(pg_switch_wal()) as wal')).rows[0]!.wal;
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const out = await client.send(new ListObjectsV2Command({ Bucket: 'backups', Prefix: 'project-one/wal/' }));
      if ((out.Contents ?? []).some((o) => o.Key!.includes(`/${wal}.gz-`))) break;
      if (Date.now() > deadline) throw new Error(`segment ${wal} was not shipped to the bucket`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await running.stop();
  }

  const into = `${dir}-restored`;
  cleanup.push(into);
  const restored = await trellis(['restore', '--from', `s3://backups/project-one/${id}`, '--dir', into], env);
  expect(restored.code, restored.stderr).toBe(0);
  const server = await startCli(into);
  try {
    const s = await statusOf(into);
    const count = await withPg(
      s.DB_URL,
      async (c) => (await c.query<{ n: string }>('select count(*) as n from public.notes')).rows[0]!.n,
    );
    expect(count).toBe('600');
  } finally {
    await server.stop();
  }
}, 180_000);
