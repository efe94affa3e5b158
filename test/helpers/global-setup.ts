/**
 * One PostgreSQL server for the whole run: TEST_DATABASE_URL when set (CI points it at the
 * machine's server), an embedded one otherwise. Each test file makes its own fresh database on it.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbedded } from '../../src/db/embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const given = process.env.TEST_DATABASE_URL;
  if (given) {
    project.provide('adminDatabaseUrl', given);
    return;
  }
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-test-pg-'));
  await fs.chmod(dataDir, 0o755);
  const embedded = await startEmbedded({ dataDir, password: 'test-password-not-secret', onProgress: () => undefined });
  console.log(`TEST_DATABASE_URL is not set: tests run on an embedded PostgreSQL (${dataDir})`);
  project.provide('adminDatabaseUrl', embedded.url);
  return async () => {
    await embedded.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  };
}
