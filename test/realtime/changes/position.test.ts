/**
 * The WAL consumer's high-water mark (src/realtime/changes/position.ts): moved only by the holder
 * of the election's lock, read back by the next consumer, ignored when it came from another
 * cluster, and put back when a write whose answer never came turns out to have committed.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Db } from '../../../src/db/pool.js';
import { HandedOnPosition, PositionLostError, type PositionMemory } from '../../../src/realtime/changes/position.js';
import { freshDatabase, testDb, type TestDatabase } from '../../helpers/db.js';
import { migrateWith } from './helpers.js';

const LOCK_KEY = 4242424242424242n;
let database: TestDatabase;
let db: Db;
let holder: pg.Client;
let holderPid: number;

beforeAll(async () => {
  database = await freshDatabase();
  db = testDb(database.url);
  await migrateWith(db, 'select 1');
  holder = new pg.Client({ connectionString: database.url });
  await holder.connect();
  await holder.query(`select pg_advisory_lock(${LOCK_KEY})`);
  holderPid = (await holder.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid ?? 0;
});

afterAll(async () => {
  await holder?.end();
  await db?.close();
  await database?.drop();
});

const open = (
  slot: string,
  memory: PositionMemory = { inDoubt: undefined },
  overrides: { systemId?: string; pid?: number } = {},
) =>
  HandedOnPosition.open({
    url: database.url,
    slot,
    systemId: overrides.systemId ?? 'cluster-a',
    lockHolderPid: overrides.pid ?? holderPid,
    lockKey: LOCK_KEY,
    memory,
  });

const row = async (slot: string) =>
  (
    await db.query<{ lsn: string; writer: string }>(
      `select commit_lsn::text as lsn, writer from realtime.trellis_change_position where slot_name = $1`,
      [slot],
    )
  ).rows[0];

describe('the high-water mark', () => {
  test('starts at 0, moves forward only, and the next consumer reads it', async () => {
    const first = await open('s1');
    expect(first.handedOn()).toBe(0n);
    await first.advance(0x2_0000_0100n);
    await first.advance(0x100n);
    expect(first.handedOn()).toBe(0x2_0000_0100n);
    await first.close();
    const next = await open('s1');
    expect(next.handedOn()).toBe(0x2_0000_0100n);
    expect((await row('s1'))?.lsn).toBe('2/100');
    await next.close();
  });

  test('a consumer whose connection no longer holds the lock cannot move it', async () => {
    const stale = await open('s2', undefined, { pid: holderPid + 100_000 });
    await expect(stale.advance(0x500n)).rejects.toBeInstanceOf(PositionLostError);
    await stale.close();
    expect((await row('s2'))?.lsn).toBe('0/0');
  });

  test('a mark from another cluster (a restored dump) is ignored there', async () => {
    const a = await open('s3');
    await a.advance(0x9_0000_0000n);
    await a.close();
    const b = await open('s3', undefined, { systemId: 'cluster-b' });
    expect(b.handedOn()).toBe(0n);
    await b.close();
  });

  test('a write whose answer never came: this process goes back to the mark before it if it was the last write', async () => {
    const p = await open('s4');
    await p.advance(0x100n);
    await p.advance(0x200n);
    await p.close();
    const last = (await row('s4'))?.writer ?? '';
    // As if the write to 0/200 had committed and the server died before answering.
    const recovered = await open('s4', { inDoubt: { writer: last, previous: 0x100n } });
    expect(recovered.handedOn()).toBe(0x100n);
    await recovered.close();
    // Someone else wrote since: their mark stands.
    const other = await open('s4', { inDoubt: { writer: 'an older write', previous: 0x100n } });
    expect(other.handedOn()).toBe(0x200n);
    await other.close();
  });

  test('the bus refused: restore moves it back', async () => {
    const p = await open('s5');
    await p.advance(0x300n);
    await p.restore(0x100n);
    expect(p.handedOn()).toBe(0x100n);
    await p.close();
    expect((await row('s5'))?.lsn).toBe('0/100');
  });
});
