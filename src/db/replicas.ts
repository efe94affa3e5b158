/**
 * Read replicas (DATABASE_READ_URL): one pool per streaming standby, each probed in the background
 * for its replay position and lag. A read that may go to a replica takes a healthy one whose replay
 * position is at or past the caller's fence (the LSN of its last write), waiting a bounded time for
 * one to catch up; otherwise the primary serves it. A replica that fails, lags or is not a standby
 * is skipped until a probe finds it healthy again.
 */
import type { Config } from '../config.js';
import { redactUrl } from './connect.js';
import type { ReplicaState, ReplicaStatus } from './replica-status.js';
import { formatLsn, parseLsn, type Lsn } from './lsn.js';
import { describeDbError } from './outage.js';
import { createDb, type Db, type PoolOptions } from './pool.js';

export type ReplicaSettings = Config['readReplicas'];

/** A replica a read may run on. */
export interface Replica {
  readonly db: Db;
  readonly url: string;
}

export interface ReadReplicas {
  /** A healthy replica that has replayed `fence` (after waiting up to fenceWaitMs), or undefined: the primary. */
  pick(fence: Lsn | undefined): Promise<Replica | undefined>;
  /** A read on `replica` met an outage: skip it until a probe finds it healthy again. */
  markDown(replica: Replica, err: unknown): void;
  status(): readonly ReplicaStatus[];
  /** Requests log in at `requestUrl`'s user and password on every replica too (roles replicate). */
  routeRequests(requestUrl: string): void;
  close(): Promise<void>;
}

interface Member {
  readonly url: string;
  readonly display: string;
  /** The server login: probes and fence checks. */
  readonly probe: Db;
  /** Requests: the URL's own login until routeRequests gives the request role's. */
  requests: Db;
  state: ReplicaState;
  replay: Lsn | undefined;
  lagMs: number | undefined;
  reason: string | undefined;
  probing: boolean;
  refreshing: Promise<Lsn | undefined> | undefined;
}

/** What a probe reads: a standby answers true and its replay position (null on a primary). */
const REPLICA_PROBE = 'select pg_is_in_recovery() as standby, pg_last_wal_replay_lsn()::text as lsn';
const REPLAY_LSN = 'select pg_last_wal_replay_lsn()::text as lsn';
const PRIMARY_LSN = 'select pg_current_wal_lsn()::text as lsn';
/** How often a read behind its fence asks the replicas again. */
const FENCE_POLL_MS = 3;
/** Distinct primary positions kept for the lag estimate; at one a second, a quarter of an hour. */
const MAX_SAMPLES = 1000;

export function createReadReplicas(
  primary: Db,
  settings: ReplicaSettings,
  pool: Omit<PoolOptions, 'url'>,
  onChange: (status: ReplicaStatus) => void,
): ReadReplicas {
  const members: Member[] = settings.urls.map((url) => {
    // Two connections are enough for probes; requests have a pool of their own. A probe of a
    // frozen host must give up within about two intervals, not the requests' deadline.
    const probeDeadline = Math.max(1000, 2 * settings.probeIntervalMs);
    const probe = createDb({
      ...pool,
      url,
      max: 2,
      queryTimeoutMs: probeDeadline,
      connectTimeoutMs: Math.min(pool.connectTimeoutMs, probeDeadline),
    });
    return {
      url,
      display: redactUrl(url),
      probe,
      // On the URL's login until routeRequests: what requests use when the request role cannot be made.
      requests: createDb({ ...pool, url }),
      state: 'starting',
      replay: undefined,
      lagMs: undefined,
      reason: undefined,
      probing: false,
      refreshing: undefined,
    };
  });
  const owned = new Set<Db>(members.flatMap((m) => [m.probe, m.requests]));
  // When the primary was first seen at each position: a replica's lag is how long ago the primary
  // first passed the position it has replayed (0 when it has replayed all the primary has).
  const samples: { at: number; lsn: Lsn }[] = [];
  let turn = 0;

  const statusOf = (m: Member): ReplicaStatus => ({
    url: m.display,
    state: m.state,
    lagMs: m.lagMs,
    replayLsn: m.replay === undefined ? undefined : formatLsn(m.replay),
    reason: m.reason,
  });
  const setState = (m: Member, state: ReplicaState, reason: string | undefined) => {
    const changed = m.state !== state;
    m.state = state;
    m.reason = reason;
    if (changed) onChange(statusOf(m));
  };
  const lagOf = (replay: Lsn, now: number): number => {
    const ahead = samples.find((s) => s.lsn > replay);
    return ahead === undefined ? 0 : Math.max(0, now - ahead.at);
  };

  const probeMember = async (m: Member) => {
    if (m.probing) return;
    m.probing = true;
    try {
      const row = (await m.probe.query<{ standby: boolean; lsn: string | null }>(REPLICA_PROBE)).rows[0];
      const replay = row?.lsn === null || row?.lsn === undefined ? undefined : parseLsn(row.lsn);
      if (row?.standby !== true || replay === undefined) {
        setState(m, 'down', 'not a standby: pg_is_in_recovery() is false');
        return;
      }
      m.replay = replay;
      m.lagMs = lagOf(replay, Date.now());
      if (m.lagMs > settings.maxLagMs) setState(m, 'lagging', `replay is ${m.lagMs} ms behind the primary`);
      else setState(m, 'healthy', undefined);
    } catch (err) {
      setState(m, 'down', describeDbError(err));
    } finally {
      m.probing = false;
    }
  };
  const probeAll = async () => {
    try {
      const lsn = parseLsn(String((await primary.query<{ lsn: string }>(PRIMARY_LSN)).rows[0]?.lsn ?? ''));
      const last = samples[samples.length - 1];
      if (lsn !== undefined && (last === undefined || lsn > last.lsn)) samples.push({ at: Date.now(), lsn });
      if (samples.length > MAX_SAMPLES) samples.splice(0, samples.length - MAX_SAMPLES);
    } catch {
      // The primary's own outage is /ready's business; the replicas' lag is judged on what is known.
    }
    await Promise.all(members.map(probeMember));
  };
  void probeAll();
  const timer = setInterval(() => void probeAll(), settings.probeIntervalMs);
  timer.unref();

  /** The replica's replay position now; concurrent reads behind a fence share one query. */
  const refresh = (m: Member): Promise<Lsn | undefined> =>
    (m.refreshing ??= m.probe
      .query<{ lsn: string | null }>(REPLAY_LSN)
      .then(({ rows }) => {
        const lsn = rows[0]?.lsn ? parseLsn(rows[0].lsn) : undefined;
        if (lsn !== undefined && (m.replay === undefined || lsn > m.replay)) m.replay = lsn;
        return m.replay;
      })
      .catch(() => undefined)
      .finally(() => (m.refreshing = undefined)));

  const asReplica = (m: Member): Replica => ({ db: m.requests, url: m.display });

  return {
    async pick(fence) {
      const healthy = members.filter((m) => m.state === 'healthy');
      if (healthy.length === 0) return undefined;
      // Round robin, so that several replicas share the reads.
      const start = turn++ % healthy.length;
      const order = [...healthy.slice(start), ...healthy.slice(0, start)];
      if (fence === undefined) return asReplica(order[0] as Member);
      const caughtUp = () => order.find((m) => m.state === 'healthy' && m.replay !== undefined && m.replay >= fence);
      const known = caughtUp();
      if (known || settings.fenceWaitMs === 0) return known && asReplica(known);
      const deadline = Date.now() + settings.fenceWaitMs;
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0) return undefined;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all(order.map(refresh)),
          new Promise((resolve) => (timer = setTimeout(resolve, left))),
        ]);
        clearTimeout(timer);
        const found = caughtUp();
        if (found) return asReplica(found);
        if (deadline - Date.now() <= FENCE_POLL_MS) return undefined;
        await new Promise((resolve) => setTimeout(resolve, FENCE_POLL_MS));
      }
    },
    markDown(replica, err) {
      const m = members.find((x) => x.display === replica.url);
      if (m) setState(m, 'down', describeDbError(err));
    },
    status: () => members.map(statusOf),
    routeRequests(requestUrl) {
      const login = new URL(requestUrl);
      for (const m of members) {
        const url = new URL(m.url);
        url.username = login.username;
        url.password = login.password;
        const before = m.requests;
        m.requests = createDb({ ...pool, url: url.toString() });
        owned.add(m.requests);
        owned.delete(before);
        void before.close().catch(() => undefined);
      }
    },
    async close() {
      clearInterval(timer);
      await Promise.all([...owned].map((db) => db.close().catch(() => undefined)));
    },
  };
}
