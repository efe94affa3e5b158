/** A fresh database per test file on the run's PostgreSQL server, dropped afterwards. */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { createDb, type Db } from '../../src/db/pool.js';

export interface TestDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

export function adminUrl(): string {
  return inject('adminDatabaseUrl');
}

export async function freshDatabase(): Promise<TestDatabase> {
  const name = `trellis_test_${crypto.randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl() });
      await client.connect();
      try {
        // A logical replication slot (the realtime change feed's, on a wal_level=logical server)
        // keeps its database from being dropped: end its reader and drop it first.
        for (let attempt = 0; attempt < 20; attempt++) {
          const slots = await client.query<{ slot_name: string; active_pid: number | null }>(
            'select slot_name, active_pid from pg_replication_slots where database = $1',
            [name],
          );
          if (slots.rowCount === 0) break;
          for (const slot of slots.rows) {
            if (slot.active_pid) await client.query('select pg_terminate_backend($1)', [slot.active_pid]);
            await client.query('select pg_drop_replication_slot($1)', [slot.slot_name]).catch(() => undefined);
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        await client.query(`drop database if exists ${name} with (force)`);
        // Its request role (src/db/request-role.ts) belongs to the whole server: it goes too.
        const role = `trellis_request_${crypto.createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
        await client.query(`drop role if exists "${role}"`);
      } finally {
        await client.end();
      }
    },
  };
}

export function testDb(url: string, overrides: Partial<Parameters<typeof createDb>[0]> = {}): Db {
  return createDb({
    url,
    max: 4,
    idleTimeoutMs: 1000,
    connectTimeoutMs: 5000,
    statementTimeoutMs: 10_000,
    preparedStatements: true,
    onIdleError: () => undefined,
    ...overrides,
  });
}

/** Trellis's own schema on `db`, with no project migrations. */
export async function migrateOwnSchema(db: Db): Promise<void> {
  const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-own-schema-'));
  try {
    await migrate(db, empty, { dryRun: false, onProgress: () => undefined });
  } finally {
    await fs.rm(empty, { recursive: true, force: true });
  }
}
