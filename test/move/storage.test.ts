/** `trellis move --storage-to s3://bucket`: local objects copied to S3, checked, and served from there after the move. */
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli, startCli, tempProject } from '../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { s3Backend, type StorageBackend } from '../helpers/storage.js';
import { MIGRATIONS, client, statusOf, userWithNotes } from './helpers.js';

describe('trellis move --storage-to', () => {
  let dir: string;
  let target: TestDatabase;
  let s3: StorageBackend;
  let aliceId: string;
  const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256));

  beforeAll(async () => {
    dir = await tempProject(MIGRATIONS);
    target = await freshDatabase();
    s3 = await s3Backend();
    const server = await startCli(dir);
    try {
      const status = await statusOf(dir);
      aliceId = (await userWithNotes(status, 'alice', ['a note'])).id;
      const admin = client(status, status.SERVICE_ROLE_KEY);
      for (const name of ['one.bin', 'two.bin'])
        expect(
          (
            await admin.storage
              .from('docs')
              .upload(`${aliceId}/${name}`, new Blob([bytes]), { contentType: 'application/octet-stream' })
          ).error,
        ).toBeNull();
    } finally {
      await server.stop();
    }
  }, 120_000);
  afterAll(async () => {
    await target?.drop();
    await s3?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('objects are copied and verified, and the server on S3 serves them', async () => {
    const { STORAGE_BACKEND: _backend, ...credentials } = s3.env;
    const moved = await runCli(
      ['move', '--to', target.url, '--dir', dir, '--storage-to', 's3://trellis'],
      credentials,
      120_000,
    );
    expect(moved.stderr).not.toContain('trellis:');
    expect(moved.code).toBe(0);
    expect(moved.stderr).toMatch(/storage objects to s3:\/\/trellis .*2 files.*each read back and checked/);
    expect(moved.stdout).toContain('STORAGE_BACKEND=s3 STORAGE_S3_BUCKET=trellis');
    expect(await s3.storedKeys('')).toHaveLength(2);

    const server = await startCli(dir, { ...s3.env, DATABASE_URL: target.url });
    try {
      const c = client(await statusOf(dir));
      expect(
        (await c.auth.signInWithPassword({ email: 'alice@example.com', password: 'alice password 1' })).error,
      ).toBeNull();
      const download = await c.storage.from('docs').download(`${aliceId}/two.bin`);
      expect(download.error).toBeNull();
      expect(Buffer.from(await (download.data as Blob).arrayBuffer()).equals(bytes)).toBe(true);
    } finally {
      await server.stop();
    }
  }, 150_000);

  test('an S3 that cannot be reached fails the move before the database is touched', async () => {
    const other = await freshDatabase();
    try {
      const moved = await runCli(
        ['move', '--to', other.url, '--dir', dir, '--storage-to', 's3://trellis'],
        {
          STORAGE_S3_ENDPOINT: 'http://127.0.0.1:1',
          STORAGE_S3_ACCESS_KEY_ID: 'x',
          STORAGE_S3_SECRET_ACCESS_KEY: 'y',
          STORAGE_S3_FORCE_PATH_STYLE: 'true',
        },
        60_000,
      );
      expect(moved.code).toBe(1);
      expect(moved.stderr).toMatch(/trellis: --storage-to: copying storage objects to s3:\/\/trellis failed/);
      expect(moved.stdout).not.toContain('applying');
    } finally {
      await other.drop();
    }
  }, 90_000);
});
