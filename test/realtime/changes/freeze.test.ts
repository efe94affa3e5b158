/**
 * issue 12, item 3, for postgres_changes: a frozen PostgreSQL (SIGSTOP of every process of the
 * cluster, as a hung server or a black-holed network looks) must not leave the feed hung. Past the
 * replication stream's deadline the WAL consumer drops the connection and reconnects through the
 * election, /ready's note says so meanwhile, and after the thaw the feed delivers again by itself,
 * each change once (the high-water mark skips what the slot sends again). Closing the hub while
 * the server is frozen ends within a bound. Runs on a cluster of its own, never the shared one.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Db } from '../../../src/db/pool.js';
import { createChangeHub } from '../../../src/realtime/changes/index.js';
import type { ChangeHub } from '../../../src/realtime/changes/contract.js';
import { testDb } from '../../helpers/db.js';
import { startOwnPostgres, type OwnPostgres } from '../../e2e/reliability/own-postgres.js';
import { memoryBus, migrateWith, recorder, silentLog, sleep, waitFor, type Recorder } from './helpers.js';

/** REALTIME_REPLICATION_TIMEOUT_MS for this test: short, so the freeze outlasts it quickly. */
const TIMEOUT_MS = 3000;
const RETRY_MS = 500;
/** The consumer's connect deadline (consumer.ts): a connect begun while frozen may wait that long. */
const CONNECT_MS = 5000;
/** Scheduling on a busy CI machine. */
const MARGIN_MS = 3000;
/** Closing drops a graceful end the server does not answer after a second (connection.ts), twice at most. */
const CLOSE_BOUND_MS = 3000;

let own: OwnPostgres;
let db: Db;
const bus = memoryBus();
const hubs: ChangeHub[] = [];

beforeAll(async () => {
  own = await startOwnPostgres();
  db = testDb(own.url, { max: 4 });
  await migrateWith(
    db,
    `create table notes (id int primary key); alter publication supabase_realtime add table notes;`,
  );
});

afterAll(async () => {
  await own?.thaw();
  await Promise.all(hubs.map((h) => h.close()));
  await db?.close();
  await own?.remove();
});

async function hub(): Promise<ChangeHub> {
  const h = await createChangeHub({
    db,
    replicationUrl: own.url,
    bus,
    log: silentLog,
    electionRetryMs: RETRY_MS,
    replicationTimeoutMs: TIMEOUT_MS,
  });
  hubs.push(h);
  expect(h.problem()).toBeUndefined();
  return h;
}

/** The backend pid of the WAL consumer's replication connection, read on a connection of its own. */
async function walSenderPid(): Promise<number | undefined> {
  const client = new pg.Client({ connectionString: own.url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const rows = (
      await client.query<{ pid: number }>(
        `select pid from pg_catalog.pg_stat_replication where application_name = 'trellis-realtime'`,
      )
    ).rows;
    return rows.length === 1 ? rows[0]?.pid : undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const ids = (sub: Recorder) => sub.received.map((r) => Number(r.data.record.id));
const inserts = [{ event: 'INSERT' as const, schema: 'public', table: 'notes' }];

describe('postgres_changes when the database freezes', () => {
  test('past the stream deadline the consumer reconnects by itself; every change arrives once', async () => {
    const h = await hub();
    const sub = recorder({ role: 'service_role' }, inserts);
    expect((await h.subscribe(sub)).ok).toBe(true);
    await db.query('insert into notes values (1)');
    await waitFor(() => ids(sub).includes(1));
    const before = await waitFor(walSenderPid);

    await own.freeze();
    let frozenFor: number;
    const frozenAt = Date.now();
    try {
      // The degraded note /ready shows (src/realtime/index.ts) says the feed is reconnecting.
      const note = await waitFor(() => h.problem(), TIMEOUT_MS + MARGIN_MS).catch(() => undefined);
      expect(note).toMatch(/reconnecting/);
      // Frozen well past the deadline: a connect attempt or two fail against it too.
      await sleep(Math.max(0, TIMEOUT_MS + 2000 - (Date.now() - frozenAt)));
    } finally {
      frozenFor = Date.now() - frozenAt;
      await own.thaw();
    }
    expect(frozenFor).toBeGreaterThan(TIMEOUT_MS);

    const thawedAt = Date.now();
    await db.query('insert into notes values (2)');
    await waitFor(() => ids(sub).includes(2), CONNECT_MS + RETRY_MS + MARGIN_MS);
    const recoveredMs = Date.now() - thawedAt;
    // A new replication connection, not the old one waking up: the old one was dropped.
    const after = await waitFor(walSenderPid);
    expect(after).not.toBe(before);
    await waitFor(() => h.problem() === undefined, RETRY_MS + MARGIN_MS);
    await db.query('insert into notes values (3)');
    await waitFor(() => ids(sub).includes(3));
    await sleep(500);
    expect(ids(sub)).toEqual([1, 2, 3]);
    expect(recoveredMs).toBeLessThan(CONNECT_MS + RETRY_MS + MARGIN_MS);
  });

  test.each([
    ['while it streams', 0],
    ['while it reconnects', TIMEOUT_MS + 1000],
  ])('closing the hub on a frozen server ends within a bound (%s)', async (_when, frozenMs) => {
    await Promise.all(hubs.splice(0).map((h) => h.close()));
    const h = await hub();
    const sub = recorder({ role: 'service_role' }, inserts);
    expect((await h.subscribe(sub)).ok).toBe(true);
    const id = 10 + frozenMs;
    await db.query('insert into notes values ($1)', [id]);
    await waitFor(() => ids(sub).includes(id));

    await own.freeze();
    let outcome: string;
    let ms: number;
    try {
      await sleep(frozenMs);
      const started = Date.now();
      outcome = await Promise.race([
        h.close().then(() => 'closed'),
        sleep(CLOSE_BOUND_MS + 2000).then(() => 'still closing'),
      ]);
      ms = Date.now() - started;
    } finally {
      await own.thaw();
    }
    hubs.splice(hubs.indexOf(h), 1);
    expect(outcome).toBe('closed');
    expect(ms).toBeLessThan(CLOSE_BOUND_MS);
  });
});
