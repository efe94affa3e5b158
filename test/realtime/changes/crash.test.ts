/**
 * A PostgreSQL crash under a live subscriber: the postmaster is killed with SIGKILL while inserts
 * stream in, started again on the same folder and port, and more inserts follow. After a crash a
 * logical slot's confirmed position falls back to the last checkpoint, so PostgreSQL sends again
 * transactions already handed on; the subscriber must still get every acknowledged row exactly
 * once. Run on the embedded PostgreSQL's binaries and on an external PostgreSQL 15, each a
 * cluster of this test's own (never the machine's shared server).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Db } from '../../../src/db/pool.js';
import { createChangeHub } from '../../../src/realtime/changes/index.js';
import type { ChangeHub } from '../../../src/realtime/changes/contract.js';
import {
  crashablePostgres,
  embeddedBinaries,
  systemBinaries,
  type CrashablePostgres,
  type PostgresBinaries,
} from '../../helpers/crashable-postgres.js';
import { testDb } from '../../helpers/db.js';
import { memoryBus, migrateWith, recorder, silentLog, sleep, waitFor, type Recorder } from './helpers.js';

const EXTERNAL_BIN = '/usr/lib/postgresql/15/bin';
const external = await systemBinaries(EXTERNAL_BIN);
if (!external && process.env.CI !== 'true')
  console.warn(`skipping the external PostgreSQL crash test: no initdb/pg_ctl in ${EXTERNAL_BIN}`);

describe.each([
  ['embedded PostgreSQL', () => embeddedBinaries()],
  // Under CI=true the test runs (and fails without the binaries), as DESIGN.md asks.
  ...(external || process.env.CI === 'true'
    ? [['external PostgreSQL 15', async () => external ?? fail()] as const]
    : []),
] as const)('a crash of the %s under a live subscriber', (_name, binaries: () => Promise<PostgresBinaries>) => {
  let cluster: CrashablePostgres;
  let db: Db;
  const hubs: ChangeHub[] = [];
  const bus = memoryBus();
  const ids = { next: 1 };

  beforeAll(async () => {
    // A long checkpoint interval, as on a real server: the slot's position on disk stays behind.
    cluster = await crashablePostgres(await binaries(), ['checkpoint_timeout=30min']);
    db = testDb(cluster.url, { max: 4 });
    await migrateWith(
      db,
      `create table ticks (id int primary key); alter publication supabase_realtime add table ticks;`,
    );
  });

  afterAll(async () => {
    await Promise.all(hubs.map((h) => h.close()));
    await db?.close();
    await cluster?.destroy();
  });

  async function hub(consume = true) {
    const h = await createChangeHub({
      db,
      replicationUrl: cluster.url,
      bus,
      log: silentLog,
      consume,
      electionRetryMs: 200,
    });
    expect(h.problem()).toBeUndefined();
    hubs.push(h);
    return h;
  }

  /** Inserts, a crash in the middle of more inserts, a restart, inserts: what the subscriber got. */
  async function crashUnder(
    sub: Recorder,
    steps: { whileDown?: () => Promise<void>; afterRestart?: () => Promise<void> } = {},
  ) {
    const writer = new InsertStream(cluster.url, ids);
    await writer.runFor(1500, 'before');
    // Let the consumer hand on (and confirm to the slot) what was written so far: without a
    // checkpoint that confirmation lives only in PostgreSQL's memory, and the crash undoes it.
    await waitFor(() => sub.received.length >= writer.acknowledged('before').length, 15_000);
    const crashing = writer.runFor(800, 'around');
    await sleep(300);
    await cluster.crash();
    await crashing;
    await steps.whileDown?.();
    await cluster.start();
    const restarted = steps.afterRestart?.();
    await writer.runFor(1500, 'after');
    await restarted;
    await writer.close();

    const acknowledged = [
      ...writer.acknowledged('before'),
      ...writer.acknowledged('around'),
      ...writer.acknowledged('after'),
    ];
    const received = () => sub.received.map((r) => Number(r.data.record.id));
    // The stream is in commit order: once the last row written after the restart is in, a replay
    // of older transactions would have come before it. A short wait more catches stragglers.
    await waitFor(() => {
      const seen = new Set(received());
      return acknowledged.every((id) => seen.has(id));
    }, 30_000).catch(() => undefined);
    await sleep(1000);
    const counts = new Map<number, number>();
    for (const id of received()) counts.set(id, (counts.get(id) ?? 0) + 1);

    const duplicates = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    const missing = acknowledged.filter((id) => !counts.has(id));
    // Rows whose insert failed at the crash may or may not have committed: each arrives at most
    // once, and only if it is in the table.
    const stored = new Set((await db.query<{ id: number }>('select id from ticks')).rows.map((r) => r.id));
    const phantom = [...counts.keys()].filter((id) => !stored.has(id));
    expect(writer.acknowledged('before').length).toBeGreaterThan(50);
    expect(writer.acknowledged('after').length).toBeGreaterThan(50);
    // Counts and the first few ids: a failure says how many, not thousands of lines.
    const summary = (list: number[]) => ({ count: list.length, first: list.slice(0, 5) });
    expect({ duplicates: summary(duplicates), missing: summary(missing), phantom: summary(phantom) }).toEqual({
      duplicates: summary([]),
      missing: summary([]),
      phantom: summary([]),
    });
  }

  const inserts = [{ event: 'INSERT' as const, schema: 'public', table: 'ticks' }];

  test('the consumer reconnects: every acknowledged row arrives exactly once, nothing twice', async () => {
    const sub = recorder({ role: 'service_role' }, inserts);
    expect((await (await hub()).subscribe(sub)).ok).toBe(true);
    await crashUnder(sub);
  });

  test('another instance is the consumer after the crash: it skips what the first one handed on', async () => {
    await Promise.all(hubs.splice(0).map((h) => h.close()));
    const listener = await hub(false);
    const sub = recorder({ role: 'service_role' }, inserts);
    expect((await listener.subscribe(sub)).ok).toBe(true);
    const first = await hub();
    // The first consumer's instance goes away while the database is down (its memory with it);
    // a new instance is elected once the database is back.
    await crashUnder(sub, {
      whileDown: async () => {
        await first.close();
        hubs.splice(hubs.indexOf(first), 1);
      },
      afterRestart: async () => void (await hub()),
    });
  });
});

function fail(): never {
  throw new Error(`CI=true and no PostgreSQL 15 binaries in ${EXTERNAL_BIN}`);
}

/** One insert per transaction, one after the other, reconnecting after errors; records what was acknowledged. */
class InsertStream {
  private client: pg.Client | undefined;
  private readonly done = new Map<string, number[]>();

  constructor(
    private readonly url: string,
    private readonly ids: { next: number },
  ) {}

  acknowledged(phase: string): number[] {
    return this.done.get(phase) ?? [];
  }

  async runFor(ms: number, phase: string): Promise<void> {
    const list = this.done.get(phase) ?? [];
    this.done.set(phase, list);
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const id = this.ids.next++;
      try {
        this.client ??= await this.connect();
        await this.client.query('insert into ticks values ($1)', [id]);
        list.push(id);
      } catch {
        // In doubt: committed or not, it was not acknowledged.
        await this.client?.end().catch(() => undefined);
        this.client = undefined;
        await sleep(50);
      }
    }
  }

  private async connect() {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 2000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    return client;
  }

  async close() {
    await this.client?.end().catch(() => undefined);
  }
}
