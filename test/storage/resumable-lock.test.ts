/**
 * The resumable uploads' lock across instances: two lockers, each with its own pool and its own
 * PostgreSQL bus, on one database, as two workers or two boxes have them.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Db } from '../../src/db/index.js';
import { createBus, type Bus } from '../../src/platform/bus/index.js';
import { createLogger } from '../../src/platform/logger.js';
import { createLeaseLocker } from '../../src/storage/resumable-lock.js';
import { freshDatabase, migrateOwnSchema, testDb, type TestDatabase } from '../helpers/db.js';

const log = createLogger({ level: 'silent', pretty: false });
const options = { leaseMs: 600, waitMs: 1500 };

describe('the lease lock of resumable uploads', () => {
  let database: TestDatabase;
  const dbs: Db[] = [];
  const buses: Bus[] = [];
  const instance = () => {
    const db = testDb(database.url);
    const bus = createBus({ kind: 'postgres', redisUrl: undefined, databaseUrl: database.url, workers: 2, log });
    dbs.push(db);
    buses.push(bus);
    return createLeaseLocker(db, bus, log, options);
  };

  beforeAll(async () => {
    database = await freshDatabase();
    const db = testDb(database.url);
    await migrateOwnSchema(db);
    await db.close();
  }, 60_000);
  afterAll(async () => {
    for (const bus of buses) await bus.close();
    for (const db of dbs) await db.close();
    await database?.drop();
  });

  test('a second instance asks the holder to let go, then takes the upload over', async () => {
    const [a, b] = [instance(), instance()];
    // The buses' LISTEN connections are up before anything is published.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const events: string[] = [];
    const first = a.newLock('upload-1');
    await first.lock(new AbortController().signal, async () => {
      events.push('a asked to release');
      await first.unlock();
      events.push('a released');
    });
    await b.newLock('upload-1').lock(new AbortController().signal, () => undefined);
    events.push('b holds');
    expect(events).toEqual(['a asked to release', 'a released', 'b holds']);
  });

  test("a dead holder's lease runs out and the upload is taken over", async () => {
    const b = instance();
    // A holder that died: its lease row stays, renewed by nobody and answering no bus message.
    await dbs
      .at(-1)!
      .query("insert into trellis.resumable_locks values ('upload-2', gen_random_uuid(), now() + interval '400 ms')");
    const started = Date.now();
    await b.newLock('upload-2').lock(new AbortController().signal, () => undefined);
    expect(Date.now() - started).toBeLessThan(options.waitMs);
  });

  test('a lock held past the wait is refused as @tus/server refuses it', async () => {
    const [a, b] = [instance(), instance()];
    await a.newLock('upload-3').lock(new AbortController().signal, () => undefined);
    await expect(b.newLock('upload-3').lock(new AbortController().signal, () => undefined)).rejects.toEqual({
      status_code: 500,
      body: 'failed to acquire lock before timeout',
    });
  });
});
