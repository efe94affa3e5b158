/**
 * On a server that cannot decode the WAL (the machine's PostgreSQL runs with wal_level=replica),
 * the hub says why in problem() (for /ready and the docs) and refuses subscriptions with that
 * reason, rather than accepting them and never delivering.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Db } from '../../../src/db/pool.js';
import { createChangeHub } from '../../../src/realtime/changes/index.js';
import { adminUrl, freshDatabase, testDb, type TestDatabase } from '../../helpers/db.js';
import { memoryBus, migrateWith, recorder, silentLog } from './helpers.js';

let database: TestDatabase | undefined;
let db: Db | undefined;
let walLevel = '';

beforeAll(async () => {
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  walLevel = (await admin.query<{ wal_level: string }>('show wal_level')).rows[0]?.wal_level ?? '';
  await admin.end();
  if (walLevel === 'logical') return;
  database = await freshDatabase();
  db = testDb(database.url);
  await migrateWith(
    db,
    `create table notes (id int primary key); alter publication supabase_realtime add table notes;`,
  );
});

afterAll(async () => {
  await db?.close();
  await database?.drop();
});

test('without wal_level=logical, problem() explains and subscribe refuses with that reason', async (ctx) => {
  if (walLevel === 'logical') {
    ctx.skip(`the test server runs with wal_level=logical (set TEST_DATABASE_URL to a server with wal_level=replica)`);
    return;
  }
  const hub = await createChangeHub({
    db: db as Db,
    replicationUrl: database?.url ?? '',
    bus: memoryBus(),
    log: silentLog,
  });
  try {
    expect(hub.problem()).toMatch(
      new RegExp(`postgres_changes needs wal_level=logical, and this PostgreSQL runs with wal_level=${walLevel}`),
    );
    const result = await hub.subscribe(
      recorder({ role: 'service_role' }, [{ event: '*', schema: 'public', table: 'notes' }]),
    );
    expect(result).toEqual({ ok: false, message: hub.problem() });
    // No slot was made on a server that cannot use it.
    const slots = await (db as Db).query(
      `select 1 from pg_replication_slots where slot_name like 'trellis_realtime_%'`,
    );
    expect(slots.rowCount).toBe(0);
  } finally {
    await hub.close();
  }
});
