/** Storage backends for the tests: the local disk, or an S3-protocol server (s3rver) on loopback. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

export interface StorageBackend {
  readonly name: 'local' | 's3';
  readonly env: Record<string, string>;
  /** Keys of every stored object version (never temp files). */
  storedKeys(dataDir: string): Promise<string[]>;
  stop(): Promise<void>;
}

export async function localBackend(): Promise<StorageBackend> {
  return {
    name: 'local',
    env: {},
    async storedKeys(dataDir) {
      const root = path.join(dataDir, 'storage');
      const files = await fs.readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
      return files
        .filter((f) => f.isFile() && !f.parentPath.includes(`${path.sep}.tmp`))
        .map((f) => path.join(f.parentPath, f.name));
    },
    async stop() {},
  };
}

export async function s3Backend(): Promise<StorageBackend> {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-s3rver-'));
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: [{ name: 'trellis' }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  return {
    name: 's3',
    env: {
      STORAGE_BACKEND: 's3',
      STORAGE_S3_ENDPOINT: endpoint,
      STORAGE_S3_BUCKET: 'trellis',
      STORAGE_S3_ACCESS_KEY_ID: 'S3RVER',
      STORAGE_S3_SECRET_ACCESS_KEY: 'S3RVER',
      STORAGE_S3_FORCE_PATH_STYLE: 'true',
    },
    async storedKeys() {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: 'trellis', ContinuationToken: token }));
        keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
        token = page.NextContinuationToken;
      } while (token);
      return keys;
    },
    async stop() {
      client.destroy();
      await server.close();
      await fs.rm(directory, { recursive: true, force: true });
    },
  };
}
