/**
 * postgres_changes (issue 5): one insert seen by 1,000 subscribers under row-level security,
 * commit -> delivery at the hub's deliver() callback, p50/p99 over every delivery. Each of the
 * 1,000 subscribers is a different user (distinct claims, so grouping by claims cannot help): the
 * policy admits a row to members of its room, and all 1,000 are members.
 *
 * Three runs on one embedded PostgreSQL, one after the other, the same WAL consumer and bus:
 * - batched: Trellis's authorisation (one call per change, PostgreSQL loops over claim groups);
 * - per subscriber: Supabase's way as a client would do it, one transaction per subscriber (the peer);
 * - no RLS: the same table with RLS off, so nothing is looked up: the pipeline's floor (WAL ->
 *   bus -> deliver);
 * - and, for the grouping, 1,000 subscribers that share one set of claims.
 *
 * At 10,000 subscribers (the goal: p99 ≤ 200 ms) the report goes to its own section
 * (`realtime-changes-10000`), and `--peer false` leaves the per-subscriber peer out (10,000
 * transactions an insert).
 *
 *   npx tsx bench/realtime-changes.ts [--subscribers 1000] [--inserts 30] [--peer false] [--write]
 */
import { parseArgs } from 'node:util';
import { createDb, type Db } from '../src/db/index.js';
import { createChangeHub, type AuthorisationMode } from '../src/realtime/index.js';
import { createMemoryBus } from '../src/platform/bus/memory.js';
import { logicalDatabase, migrateWith, silentLog } from './embedded.js';
import { report } from './report.js';
import { percentile } from '../src/capacity/index.js';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '1000' },
    inserts: { type: 'string', default: '30' },
    peer: { type: 'string', default: 'true' },
    write: { type: 'boolean', default: false },
  },
});
const SUBSCRIBERS = Number(values.subscribers);
const INSERTS = Number(values.inserts);
const WARMUP = 3;

const uuid = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

interface Result {
  readonly p50: number;
  readonly p99: number;
  /** The last of the 1,000 deliveries of an insert, median over inserts. */
  readonly lastMedian: number;
}

async function measure(
  db: Db,
  url: string,
  mode: AuthorisationMode,
  table: string,
  sameClaims = false,
): Promise<Result> {
  // The in-process bus Trellis itself runs without REDIS_URL.
  const bus = createMemoryBus(silentLog);
  const hub = await createChangeHub({ db, replicationUrl: url, bus, log: silentLog, authorisation: mode });
  let currentId = -1;
  let arrivals: number[] = [];
  let done: () => void = () => undefined;
  const latencies: number[] = [];
  const lasts: number[] = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const result = await hub.subscribe({
      claims: sameClaims
        ? { role: 'authenticated', sub: uuid(1), aud: 'authenticated', session_id: uuid(100_000) }
        : { role: 'authenticated', sub: uuid(i + 1), aud: 'authenticated', session_id: uuid(100_000 + i) },
      subscriptions: [{ id: 1, event: 'INSERT', schema: 'public', table }],
      deliver: (_ids, data) => {
        // A consumer that starts replays what its predecessor had not confirmed: not this insert's.
        if (data.record.id !== currentId) return;
        arrivals.push(performance.now());
        if (arrivals.length === SUBSCRIBERS) done();
      },
    });
    if (!result.ok) throw new Error(result.message);
  }
  let nextId = 1_000_000 * (1 + Math.floor(Math.random() * 1000));
  for (let n = 0; n < WARMUP + INSERTS; n++) {
    arrivals = [];
    currentId = nextId++;
    const all = new Promise<void>((resolve) => (done = resolve));
    await db.query(`insert into public.${table} (id, room, body) values ($1, 1, 'hello')`, [currentId]);
    // The commit is known to the client when the insert returns: time is counted from there.
    const committedAt = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${mode}: ${SUBSCRIBERS - arrivals.length} deliveries missing`)),
        // Time enough for the peer's transaction per subscriber on a busy machine.
        30_000 + SUBSCRIBERS * 5,
      );
    });
    await Promise.race([all, timeout]).finally(() => clearTimeout(timer));
    if (n < WARMUP) continue;
    for (const t of arrivals) latencies.push(Math.max(0, t - committedAt));
    lasts.push(Math.max(0, (arrivals.at(-1) ?? committedAt) - committedAt));
  }
  await hub.close();
  latencies.sort((a, b) => a - b);
  lasts.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), lastMedian: percentile(lasts, 50) };
}

async function main() {
  const database = await logicalDatabase();
  const db = createDb({
    url: database.url,
    max: 10,
    idleTimeoutMs: 10_000,
    connectTimeoutMs: 5000,
    statementTimeoutMs: 30_000,
    preparedStatements: true,
    onIdleError: () => undefined,
  });
  try {
    // Not the chat fixture (examples/chat): a thousand subscribers with no auth.users rows (the
    // app's foreign keys to profiles would refuse them), an inline membership check, and a twin
    // table without RLS as the floor; the figures in docs/benchmarks.md were measured on this.
    await migrateWith(
      db,
      `create table members (room int, user_id uuid, primary key (room, user_id));
       create table messages (id bigserial primary key, room int not null, body text);
       alter table messages enable row level security;
       create policy "room members read" on messages for select to authenticated
         using (exists (select 1 from members m where m.room = messages.room and m.user_id = auth.uid()));
       create table open_messages (id bigserial primary key, room int not null, body text);
       alter publication supabase_realtime add table messages, open_messages;`,
    );
    await db.query(
      `insert into members select 1, ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid from generate_series(1, $1::int) g`,
      [SUBSCRIBERS],
    );
    await db.query('analyze');
    const batched = await measure(db, database.url, 'batched', 'messages');
    const perSubscriber =
      values.peer === 'false' ? undefined : await measure(db, database.url, 'perSubscriber', 'messages');
    const floor = await measure(db, database.url, 'batched', 'open_messages');
    const shared = await measure(db, database.url, 'batched', 'messages', true);
    const row = (name: string, r: Result) =>
      `| ${name} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.lastMedian.toFixed(1)} |`;
    const table = [
      `One insert seen by ${SUBSCRIBERS.toLocaleString('en')} subscribers (distinct users) under RLS; ${INSERTS} inserts after ${WARMUP} warm-up; ms from the insert's commit returning to deliver().`,
      '',
      '| authorisation | p50 | p99 | last delivery (median) |',
      '|---|---|---|---|',
      row('Trellis: one call per change, PostgreSQL loops over claim groups', batched),
      ...(perSubscriber ? [row("peer: one transaction per subscriber (Supabase's way)", perSubscriber)] : []),
      row('floor: same pipeline, table without RLS (no lookup)', floor),
      row(
        `Trellis, ${SUBSCRIBERS.toLocaleString('en')} subscribers with identical claims (one user, many tabs): one lookup`,
        shared,
      ),
      '',
      (perSubscriber
        ? `Trellis is ${(perSubscriber.p50 / batched.p50).toFixed(1)}× (p50) and ${(perSubscriber.p99 / batched.p99).toFixed(1)}× (p99) faster than one query per subscriber; `
        : '') + `Trellis's p99 is ${(batched.p99 / floor.p99).toFixed(1)}× the no-RLS floor.`,
    ].join('\n');
    report(
      SUBSCRIBERS === 1000 ? 'realtime-changes' : `realtime-changes-${SUBSCRIBERS}`,
      `\`npx tsx bench/realtime-changes.ts --subscribers ${SUBSCRIBERS} --inserts ${INSERTS}${perSubscriber ? '' : ' --peer false'}\``,
      table,
      values.write === true,
    );
  } finally {
    await db.close();
    await database.stop();
  }
}

await main();
