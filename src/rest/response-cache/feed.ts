/**
 * What makes the cache forget: the WAL consumer's table-change notices on the bus (every instance
 * hears them), and whether that stream is working at all. The stream counts as live while the
 * change feed's replication slot is being read (by whichever instance holds it) and the bus is
 * healthy; when it is not, nothing is cached or answered from the cache, and every entry is
 * forgotten on each change of state, since changes made meanwhile may never be heard.
 */
import type { Db } from '../../db/index.js';
import { errorMessage } from '../../errors.js';
import type { Bus } from '../../platform/bus/index.js';
import type { ResponseStore } from '../../platform/cache/index.js';
import type { Logger } from '../../platform/logger.js';
import { decodeTableChanges, TABLE_CHANGES_TOPIC } from '../../platform/table-changes.js';
import type { CacheFigures } from './metrics.js';

/** How old the slot's state may be before a request waits for a fresh look. */
const SLOT_CHECK_MS = 2000;
/**
 * The walsender sends a commit as soon as its WAL is flushed, a moment before the transaction is
 * visible to new snapshots: a read in that moment sees the old rows under the new counters. A
 * second forget this much later drops such an entry.
 */
const SECOND_FORGET_MS = 100;

// The change feed's slots are named trellis_realtime_<hash of the database> (realtime/changes/consumer.ts).
const SLOT_SQL = `select coalesce(bool_or(active), false) as active from pg_catalog.pg_replication_slots
  where slot_name like 'trellis\\_realtime\\_%' and database = current_database()`;

/**
 * The store's counter names for one project: a Redis may serve several projects, whose tables and
 * cache keys must not meet. The project is its database's cluster id (trellis.realtime_cluster).
 */
export interface CounterScope {
  /** Bumped to forget every entry of the project. */
  readonly all: string;
  readonly table: (name: string) => string;
  readonly key: (key: string) => string;
}

export async function counterScope(db: Db): Promise<CounterScope> {
  const { rows } = await db.query<{ id: string }>('select id::text from trellis.realtime_cluster limit 1');
  const id = rows[0]?.id ?? 'unknown';
  return { all: `${id}/*`, table: (name) => `${id}/${name}`, key: (key) => `${id}/${key}` };
}

export interface InvalidationFeed {
  /** Whether answers may be cached and served now (checks the slot at most every 2 s). */
  live(): Promise<boolean>;
  close(): void;
}

export function startInvalidationFeed(options: {
  db: Db;
  bus: Bus;
  store: ResponseStore;
  log: Logger;
  figures: CacheFigures;
  scope: () => Promise<CounterScope>;
}): InvalidationFeed {
  const { db, bus, store, log, figures } = options;
  const timers = new Set<NodeJS.Timeout>();
  /** `tables`: `schema.table`, or undefined for all. */
  const forget = (tables: readonly string[] | undefined) =>
    options
      .scope()
      .then((scope) => store.invalidate(tables ? tables.map(scope.table) : [scope.all]))
      .catch((err: unknown) => {
        log.warn({ err: errorMessage(err), tables }, 'response cache: cannot forget changed tables');
      });
  const unsubscribe = bus.subscribe(TABLE_CHANGES_TOPIC, (message) => {
    const notice = decodeTableChanges(message);
    if (!notice || notice.tables.length === 0) return;
    const committed = Date.parse(notice.commitTimestamp);
    void forget(notice.tables).then(() => {
      const lag = (Date.now() - committed) / 1000;
      for (let i = 0; i < notice.tables.length; i++) figures.invalidated(lag);
    });
    const again = setTimeout(() => {
      timers.delete(again);
      void forget(notice.tables);
    }, SECOND_FORGET_MS);
    again.unref();
    timers.add(again);
  });

  let slot: { at: number; active: Promise<boolean> } | undefined;
  let wasLive: boolean | undefined;
  const slotActive = () => {
    if (!slot || Date.now() - slot.at > SLOT_CHECK_MS) {
      const active = db.query<{ active: boolean }>(SLOT_SQL).then(
        (r) => r.rows[0]?.active === true,
        (err: unknown) => {
          log.debug({ err: errorMessage(err) }, 'response cache: cannot read the replication slot');
          return false;
        },
      );
      slot = { at: Date.now(), active };
    }
    return slot.active;
  };
  return {
    async live() {
      const why = !bus.isHealthy()
        ? 'the bus (Redis) is unreachable'
        : !store.isHealthy()
          ? 'the cache store (Redis) is unreachable'
          : !(await slotActive())
            ? 'no instance is reading the WAL (see the postgres_changes warnings)'
            : undefined;
      const now = why === undefined;
      if (now !== wasLive) {
        if (now && wasLive !== undefined) log.warn('response cache: the change stream is back; caching again');
        if (!now)
          log.warn(
            `response cache: not caching while the change stream is unavailable: ${why}; reads go to the database`,
          );
        wasLive = now;
        await forget(undefined);
      }
      return now;
    },
    close() {
      unsubscribe();
      for (const t of timers) clearTimeout(t);
    },
  };
}
