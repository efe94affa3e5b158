/**
 * An embedded PostgreSQL (wal_level=logical, which the machine's shared server may not have) with
 * Trellis's schema and one project migration, for benchmarks that drive a module directly rather
 * than through a started server. Built from src/ only: benchmarks never import test/.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { migrate, startEmbedded, type Db } from '../src/db/index.js';

export const silentLog = pino({ level: 'silent' });

export async function logicalDatabase(): Promise<{ url: string; stop(): Promise<void> }> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-bench-db-'));
  // The embedded server runs as "postgres" when we are root: it must be able to enter the folder.
  await fs.chmod(dataDir, 0o755);
  try {
    const embedded = await startEmbedded({
      dataDir,
      password: 'bench-password-not-secret',
      onProgress: () => undefined,
    });
    return {
      url: embedded.url,
      stop: async () => {
        await embedded.stop();
        await fs.rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await fs.rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}

/** Trellis's own schema plus `sql` as the project's one migration. */
export async function migrateWith(db: Db, sql: string): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-bench-mig-'));
  await fs.writeFile(path.join(dir, '20240101000000_app.sql'), sql);
  try {
    await migrate(db, dir, { dryRun: false, onProgress: () => undefined });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
