/** Storage backends for the tests: the local disk, or an S3-protocol server (s3rver) on loopback. */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { freePort } from './cli.js';

export interface StorageBackend {
  readonly name: 'local' | 's3';
  readonly env: Record<string, string>;
  /** Keys of every stored object version (never temp files nor unfinished resumable uploads). */
  storedKeys(dataDir: string): Promise<string[]>;
  /** Files or keys of unfinished resumable uploads (their bytes and state). */
  stagedKeys(dataDir: string): Promise<string[]>;
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
        .filter(
          (f) =>
            f.isFile() && !f.parentPath.includes(`${path.sep}.tmp`) && !f.parentPath.includes(`${path.sep}.resumable`),
        )
        .map((f) => path.join(f.parentPath, f.name));
    },
    async stagedKeys(dataDir) {
      return fs.readdir(path.join(dataDir, 'storage', '.resumable')).catch(() => []);
    },
    async stop() {},
  };
}

/** Why moto's S3 server cannot run here, or undefined when it can (`python3 -m moto.server`). */
export function motoMissing(): string | undefined {
  const probe = spawnSync('python3', ['-c', 'import moto.server, flask'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : 'python3 with moto[server] is not installed';
}

/**
 * moto's S3 server on loopback: unlike s3rver it has ListParts, which resumable uploads' S3 store
 * (@tus/s3-store) needs to resume a multipart upload.
 */
export async function motoBackend(): Promise<StorageBackend> {
  const port = await freePort();
  const child = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'moto', secretAccessKey: 'moto' },
  });
  for (let attempt = 0; ; attempt++) {
    try {
      await client.send(new CreateBucketCommand({ Bucket: 'trellis' }));
      break;
    } catch (err) {
      if (attempt > 100 || child.exitCode !== null) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    name: 's3',
    env: {
      STORAGE_BACKEND: 's3',
      STORAGE_S3_ENDPOINT: endpoint,
      STORAGE_S3_BUCKET: 'trellis',
      STORAGE_S3_ACCESS_KEY_ID: 'moto',
      STORAGE_S3_SECRET_ACCESS_KEY: 'moto',
      STORAGE_S3_FORCE_PATH_STYLE: 'true',
    },
    storedKeys: () => s3Keys(client, true),
    stagedKeys: () => s3Keys(client, false),
    async stop() {
      client.destroy();
      child.kill();
    },
  };
}

/** Object versions (`<bucket>/…`), or else resumable uploads' keys (no `/`). */
async function s3Keys(client: S3Client, versions: boolean): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: 'trellis', ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key ?? '').filter((k) => k.includes('/') === versions));
    token = page.NextContinuationToken;
  } while (token);
  return keys;
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
    storedKeys: () => s3Keys(client, true),
    stagedKeys: () => s3Keys(client, false),
    async stop() {
      client.destroy();
      await server.close();
      await fs.rm(directory, { recursive: true, force: true });
    },
  };
}

/** config.toml for two buckets on two stores: `photos` on the default (local) store, `docs` on `cloud` (S3 at `endpoint`, moto's credentials). */
export function storesToml(endpoint: string): string {
  return `
[storage.stores.cloud]
kind = "s3"
endpoint = "${endpoint}"
bucket = "trellis"
region = "us-east-1"
access_key_id = "moto"
secret_access_key = "moto"
force_path_style = true

# The default store's own folder under another name (a move to it must be refused).
[storage.stores.alias]
kind = "local"
path = ".trellis/storage"

[storage.buckets.photos]
public = true

[storage.buckets.docs]
public = true
store = "cloud"
`;
}
