/**
 * One WAL consumer per cluster, elected by an advisory lock, resuming from its slot: a change
 * committed while no consumer runs is delivered when one starts again, and when the consumer's
 * instance closes another takes over.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Db } from '../../../src/db/pool.js';
import { createChangeHub } from '../../../src/realtime/changes/index.js';
import type { ChangeHub } from '../../../src/realtime/changes/contract.js';
import { testDb } from '../../helpers/db.js';
import { logicalDatabase, memoryBus, migrateWith, recorder, silentLog, sleep, waitFor } from './helpers.js';

let database: { url: string; stop(): Promise<void> };
let db: Db;
const hubs: ChangeHub[] = [];

beforeAll(async () => {
  database = await logicalDatabase();
  db = testDb(database.url, { max: 6 });
  await migrateWith(
    db,
    `create table events (id int primary key, body text); alter publication supabase_realtime add table events;`,
  );
});

afterAll(async () => {
  await Promise.all(hubs.map((h) => h.close()));
  await db?.close();
  await database?.stop();
});

async function hub(bus: ReturnType<typeof memoryBus>, consume = true, startWaitMs?: number) {
  const h = await createChangeHub({
    db,
    replicationUrl: database.url,
    bus,
    log: silentLog,
    consume,
    electionRetryMs: 200,
    startWaitMs,
  });
  hubs.push(h);
  return h;
}

const service = { role: 'service_role' };
const all = [{ event: '*' as const, schema: 'public', table: 'events' }];

describe('the WAL consumer', () => {
  test('a change committed while no consumer runs is delivered when one starts, and nothing twice', async () => {
    const bus = memoryBus();
    const first = await hub(bus);
    const listener = await hub(bus, false);
    const sub = recorder(service, all);
    expect((await listener.subscribe(sub)).ok).toBe(true);
    await db.query(`insert into events values (1, 'before')`);
    await waitFor(() => sub.received.length === 1);

    await first.close();
    await db.query(`insert into events values (2, 'while down')`);
    await sleep(300);
    expect(sub.received).toHaveLength(1);

    await hub(bus);
    await waitFor(() => sub.received.length >= 2);
    await db.query(`insert into events values (3, 'after')`);
    await waitFor(() => sub.received.length >= 3);
    await sleep(300);
    expect(sub.received.map((r) => r.data.record.body)).toEqual(['before', 'while down', 'after']);
  });

  test('two hubs on one database elect one consumer; the other takes over when it closes', async () => {
    // Earlier hubs of this file are gone: start from none.
    await Promise.all(hubs.splice(0).map((h) => h.close()));
    const bus = memoryBus();
    const a = await hub(bus);
    const b = await hub(bus);
    const sub = recorder(service, all);
    expect((await b.subscribe(sub)).ok).toBe(true);
    const published = bus.published;
    await db.query(`insert into events values (10, 'one consumer')`);
    await waitFor(() => sub.received.length >= 1);
    await sleep(500);
    // Both hubs hear the bus; had both consumed, the change would have been published twice.
    expect(bus.published - published).toBe(1);
    expect(sub.received).toHaveLength(1);

    const active = await db.query<{ n: number }>(
      `select count(*)::int as n from pg_replication_slots where slot_name like 'trellis_realtime_%' and active`,
    );
    expect(active.rows[0]?.n).toBe(1);

    // Whichever is the consumer closes; the subscriber stays on b, which may be that one, so
    // it moves to a third hub first.
    const c = await hub(bus, false);
    const moved = recorder(service, all);
    expect((await c.subscribe(moved)).ok).toBe(true);
    await a.close();
    await b.close();
    const d = await hub(bus);
    expect(d.problem()).toBeUndefined();
    await db.query(`insert into events values (11, 'taken over')`);
    await waitFor(() => moved.received.length >= 1);
    expect(moved.received.map((r) => r.data.record.body)).toEqual(['taken over']);
  });

  test('a standby takes over within its retry interval when the consumer closes', async () => {
    await Promise.all(hubs.splice(0).map((h) => h.close()));
    const bus = memoryBus();
    const leader = await hub(bus);
    const standby = await hub(bus);
    const sub = recorder(service, all);
    expect((await standby.subscribe(sub)).ok).toBe(true);
    await leader.close();
    await db.query(`insert into events values (20, 'standby delivers')`);
    await waitFor(() => sub.received.length >= 1, 5000);
    expect(sub.received[0]?.data.record.body).toBe('standby delivers');
  });

  test('a change the bus failed to take is not confirmed: the stream restarts and delivers it', async () => {
    await Promise.all(hubs.splice(0).map((h) => h.close()));
    const bus = memoryBus();
    const publish = bus.publish.bind(bus);
    let failures = 1;
    bus.publish = async (topic, message) => {
      if (failures-- > 0) throw new Error('bus down');
      return publish(topic, message);
    };
    const listener = await hub(bus, false);
    const sub = recorder(service, all);
    expect((await listener.subscribe(sub)).ok).toBe(true);
    await hub(bus);
    await db.query(`insert into events values (30, 'retried')`);
    await waitFor(() => sub.received.length >= 1, 5000);
    expect(sub.received.map((r) => r.data.record.body)).toEqual(['retried']);
  });

  test('a transaction of 1,200 rows arrives whole, in order, over several bus messages', async () => {
    await Promise.all(hubs.splice(0).map((h) => h.close()));
    const bus = memoryBus();
    const listener = await hub(bus, false);
    const sub = recorder(service, [{ event: 'INSERT', schema: 'public', table: 'events' }]);
    expect((await listener.subscribe(sub)).ok).toBe(true);
    await hub(bus);
    const before = bus.published;
    await db.query(`insert into events select g, 'bulk ' || g from generate_series(1000, 2199) g`);
    await waitFor(() => sub.received.length >= 1200, 20_000);
    expect(sub.received.map((r) => r.data.record.id)).toEqual(Array.from({ length: 1200 }, (_, i) => 1000 + i));
    expect(bus.published - before).toBe(3);
  });

  test('a join while the slot is still being made waits for it: a change committed right after the join arrives', async () => {
    await Promise.all(hubs.splice(0).map((h) => h.close()));
    // No slot: the next consumer makes it, and making it waits for every transaction running then
    // to end. One that holds a transaction id stays open meanwhile (as autovacuum or a long
    // request may), longer than the hub waits at start.
    for (let attempt = 0; ; attempt++) {
      const dropped = await db
        .query(
          `select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name like 'trellis_realtime_%'`,
        )
        .then(
          () => true,
          () => false,
        );
      if (dropped) break;
      if (attempt > 50) throw new Error('the slot stayed active');
      await sleep(100);
    }
    const blocker = new pg.Client({ connectionString: database.url });
    await blocker.connect();
    try {
      await blocker.query('begin');
      await blocker.query('select pg_current_xact_id()');
      const bus = memoryBus();
      const h = await hub(bus, true, 300);
      const sub = recorder(service, all);
      const joined = h.subscribe(sub).then(async (result) => {
        // The subscriber is told it joined: what is committed from now on is its to receive.
        if (result.ok) await db.query(`insert into events values (40, 'right after the join')`);
        return result.ok;
      });
      await sleep(700);
      await blocker.query('commit');
      expect(await joined).toBe(true);
      await waitFor(() => sub.received.length >= 1, 5000);
      expect(sub.received.map((r) => r.data.record.body)).toEqual(['right after the join']);
    } finally {
      await blocker.end();
    }
  });
});
