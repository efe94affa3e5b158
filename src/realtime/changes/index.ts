/**
 * The postgres_changes feed behind the ChangeHub seam (contract.ts). The WAL consumer (one per
 * cluster) publishes committed changes on the bus; every instance's hub hears them, authorises
 * each change for its own subscribers (filters and row-level security, one query each per change)
 * and calls their `deliver`.
 */
import type { Registry } from 'prom-client';
import { API_ROLES, type Db } from '../../db/index.js';
import { errorMessage } from '../../errors.js';
import type { Bus } from '../../platform/bus/index.js';
import type { Logger } from '../../platform/logger.js';
import { startRootSpan } from '../../platform/tracing.js';
import { checkCondition, type AuthorisationMode } from './authorise.js';
import { Catalog, PUBLICATION, replicationProblem } from './catalog.js';
import { startWalConsumer, type WalConsumer } from './consumer.js';
import type { ChangeHub, ChangeSubscribeResult, ChangeSubscriptionRequest } from './contract.js';
import { parseFilter } from './filter.js';
import { SubscriberRegistry, roleOf, type LocalSubscription } from './registry.js';
import { routeBatch, type Delivery } from './router.js';
import { CHANGES_TOPIC, decodeBatch } from './wire.js';
import { changeMetrics } from './metrics.js';

export type { ChangeHub } from './contract.js';

export interface ChangeHubOptions {
  /** Catalog reads and authorisation (withClaims, so on the request login when there is one). */
  readonly db: Db;
  /** Where the WAL consumer connects: the server login (DATABASE_URL or the embedded database). */
  readonly replicationUrl: string;
  readonly bus: Bus;
  readonly log: Logger;
  /** False: never read the WAL here, only deliver what other instances publish. Default true. */
  readonly consume?: boolean;
  /** How often an instance that is not the consumer tries to become it. Default 2000 ms. */
  readonly electionRetryMs?: number;
  /**
   * The replication stream's deadline: nothing from the server for this long and the consumer
   * reconnects (REALTIME_REPLICATION_TIMEOUT_MS). Default 30 s.
   */
  readonly replicationTimeoutMs?: number;
  /** 'perSubscriber' is Supabase's way, kept for the benchmark's comparison. Default 'batched'. */
  readonly authorisation?: AuthorisationMode;
  /** Where to register the feed's metrics (the registry of src/platform/metrics.ts). */
  readonly metrics?: { readonly registry: Registry };
  /** How long createChangeHub waits for the WAL consumer's first attempt. Default 10 s. */
  readonly startWaitMs?: number;
}

const FIRST_ATTEMPT_WAIT_MS = 10_000;
const REPLICATION_TIMEOUT_MS = 30_000;
/** A join waits this long for the consumer's first attempt (about realtime-js's join timeout). */
const JOIN_WAIT_MS = 10_000;

export async function createChangeHub(options: ChangeHubOptions): Promise<ChangeHub> {
  const { db, bus, log } = options;
  const mode = options.authorisation ?? 'batched';
  const catalog = new Catalog(db);
  const registry = new SubscriberRegistry();
  const figures = changeMetrics(options.metrics?.registry);
  const fixedProblem = await replicationProblem(db).catch(
    (err: unknown) => `cannot check the database for logical replication: ${errorMessage(err)}`,
  );
  if (fixedProblem) log.warn(`realtime: postgres_changes is unavailable: ${fixedProblem}`);

  let consumer: WalConsumer | undefined;
  if (!fixedProblem && options.consume !== false) {
    consumer = startWalConsumer({
      url: options.replicationUrl,
      bus,
      log,
      retryMs: options.electionRetryMs ?? 2000,
      timeoutMs: options.replicationTimeoutMs ?? REPLICATION_TIMEOUT_MS,
      onRelation: (schema, table) => catalog.forget(schema, table),
    });
    // Once the slot exists, every later commit is captured: wait for that (bounded).
    await Promise.race([
      consumer.firstAttempt,
      new Promise((r) => setTimeout(r, options.startWaitMs ?? FIRST_ATTEMPT_WAIT_MS).unref()),
    ]);
  }
  // Until the consumer's first attempt settles, the slot may not exist yet (making it waits for
  // every transaction running at that moment to end): a change committed then is never in the
  // WAL stream. A join is accepted only once every later commit is captured.
  let started = false;
  void consumer?.firstAttempt.then(() => (started = true));
  const consumerStarted = async () => {
    if (!consumer || started) return true;
    await Promise.race([consumer.firstAttempt, new Promise((r) => setTimeout(r, JOIN_WAIT_MS).unref())]);
    return started;
  };

  // Transactions are authorised concurrently but delivered in commit order.
  const deps = { db, catalog, registry, mode };
  let delivered: Promise<void> = Promise.resolve();
  const unsubscribeBus = bus.subscribe(CHANGES_TOPIC, (message) => {
    if (registry.size() === 0) return;
    const batch = decodeBatch(message);
    if (!batch) return;
    batch.changes.forEach(() => figures.changeReceived());
    const started = performance.now();
    // The transaction's trace: its authorisation's SQL and its deliveries.
    const span = startRootSpan(() => [
      'realtime postgres_changes',
      {
        'db.collection.name': [...new Set(batch.changes.map((c) => `${c.schema}.${c.table}`))].join(','),
        'trellis.realtime.changes': batch.changes.length,
        'trellis.realtime.xid': batch.xid,
      },
    ]);
    const route = () => routeBatch(deps, batch);
    let failure: unknown;
    const work = (span ? span.run(route) : route()).then(
      (out) => {
        figures.authorised((performance.now() - started) / 1000);
        return out;
      },
      (err: unknown) => {
        failure = err;
        // Fail closed: changes that cannot be authorised reach no one.
        log.error(
          { err: errorMessage(err), changes: batch.changes.length },
          'realtime: cannot authorise a transaction',
        );
        return [] as Delivery[];
      },
    );
    delivered = delivered.then(async () => {
      const deliveries = await work;
      figures.delivered(deliveries.length);
      let reached = 0;
      for (const d of deliveries) {
        if (!registry.has(d.entry)) continue;
        try {
          d.subscriber.deliver(d.ids, d.data);
          reached += 1;
        } catch (err) {
          log.error({ err: errorMessage(err) }, 'realtime: a subscriber failed to take a change');
        }
      }
      span?.end({ 'trellis.realtime.deliveries': reached }, failure);
    });
  });

  const problem = () =>
    fixedProblem ??
    (consumer?.lastError()
      ? `postgres_changes cannot read the WAL (reconnecting): ${consumer.lastError()}`
      : undefined);

  return {
    problem,
    async subscribe(subscriber) {
      if (!(await consumerStarted()))
        return {
          ok: false,
          message: 'postgres_changes is starting (the WAL consumer is not reading yet); join again in a moment',
        };
      const why = problem();
      if (why) return { ok: false, message: why };
      const role = roleOf(subscriber.claims);
      if (!API_ROLES.has(role))
        return { ok: false, message: `role "${role.slice(0, 64)}" may not subscribe to postgres_changes` };
      const subscriptions: LocalSubscription[] = [];
      for (const request of subscriber.subscriptions) {
        const checked = await checkRequest(request, role);
        if (typeof checked === 'string') return refuse(request, checked);
        subscriptions.push({
          id: request.id,
          event: request.event,
          schema: request.schema,
          table: checked.table,
          conditions: checked.conditions,
        });
      }
      const unsubscribe = registry.add({ subscriber, subscriptions });
      return { ok: true, unsubscribe } satisfies ChangeSubscribeResult;
    },
    async close() {
      unsubscribeBus();
      await consumer?.close();
      await delivered;
    },
  };

  async function checkRequest(request: ChangeSubscriptionRequest, role: string) {
    if (!['INSERT', 'UPDATE', 'DELETE', '*'].includes(request.event))
      return `"${String(request.event)}" is not an event (INSERT, UPDATE, DELETE or *)`;
    if (typeof request.schema !== 'string' || request.schema === '') return 'a schema is required';
    const published = await catalog.publishedTables(true);
    const wildcard = request.table === undefined || request.table === '*';
    const parsed = parseFilter(request.filter);
    if (!parsed.ok) return parsed.message;
    if (wildcard) {
      if (parsed.conditions.length > 0) return 'a filter needs a table';
      const any = [...published].some((t) => request.schema === '*' || t.startsWith(`${request.schema}.`));
      return any
        ? { table: undefined, conditions: [] }
        : `no table of schema "${request.schema}" is in the ${PUBLICATION} publication`;
    }
    const table = request.table;
    if (!published.has(`${request.schema}.${table}`)) {
      if (await catalog.publishesPartitionsOf(request.schema, table))
        return `table ${request.schema}.${table} is partitioned, and the ${PUBLICATION} publication sends its changes as its partitions (run ALTER PUBLICATION ${PUBLICATION} SET (publish_via_partition_root = true))`;
      return `table ${request.schema}.${table} is not in the ${PUBLICATION} publication`;
    }
    const info = await catalog.table(request.schema, table, true);
    if (!info) return `table ${request.schema}.${table} does not exist`;
    if (!info.selectableBy.has(role))
      return `permission denied for table ${request.schema}.${table} (role ${role} has no SELECT)`;
    for (const condition of parsed.conditions) {
      const column = info.byName.get(condition.column);
      if (!column?.selectableBy.has(role)) return `invalid column for filter ${condition.column}`;
      const bad = await checkCondition(db, info, condition);
      if (bad) return bad;
    }
    return { table, conditions: parsed.conditions };
  }
}

/** Supabase's words for a refused postgres_changes join, then why. */
function refuse(request: ChangeSubscriptionRequest, reason: string): ChangeSubscribeResult {
  return {
    ok: false,
    message:
      `Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given connect parameters: ` +
      `[event: ${request.event}, schema: ${request.schema}, table: ${request.table ?? '*'}, filters: [${request.filter ?? ''}]]: ${reason}`,
  };
}
