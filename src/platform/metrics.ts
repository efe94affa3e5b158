/** Prometheus metrics: HTTP requests by route and status, the pool, and Node's process metrics. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolStats } from '../db/index.js';

/** One answered request, as its log line has it. */
export interface RequestRecord {
  readonly at: number;
  readonly reqId: string;
  readonly method: string;
  readonly route: string;
  readonly path: string;
  readonly status: number;
  readonly ms: number;
}

/** The last RECENT_REQUESTS answered requests of this process (Studio's recent log), oldest first. */
export interface RecentRequests {
  add(record: RequestRecord): void;
  list(): readonly RequestRecord[];
}

export const RECENT_REQUESTS = 1000;

/** A fixed ring: one slot written per request, nothing reallocated on the hot path. */
export function createRecentRequests(size = RECENT_REQUESTS): RecentRequests {
  const ring: (RequestRecord | undefined)[] = new Array<RequestRecord | undefined>(size);
  let next = 0;
  return {
    add(record) {
      ring[next % size] = record;
      next += 1;
    },
    list() {
      const out: RequestRecord[] = [];
      for (let i = Math.max(0, next - size); i < next; i++) {
        const r = ring[i % size];
        if (r) out.push(r);
      }
      return out;
    },
  };
}

export interface Metrics {
  readonly registry: Registry;
  readonly recent: RecentRequests;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** A request or realtime message refused by a data API rate limit, by family (rest, storage, …). */
  countRateLimited(family: string): void;
}

export function createMetrics(poolStats: () => PoolStats | undefined): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'trellis_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'trellis_http_request_duration_seconds',
    help: 'Time from receiving a request to sending its response headers.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const pool = (name: string, help: string, pick: (s: PoolStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const stats = poolStats();
        if (stats) this.set(pick(stats));
      },
    });
  const limited = new Counter({
    name: 'trellis_rate_limited_total',
    help: 'Requests (and realtime messages) refused by a data API rate limit, by route family.',
    labelNames: ['family'] as const,
    registers: [registry],
  });
  pool('trellis_db_pool_in_use', 'Connections checked out of the pool.', (s) => s.total - s.idle);
  pool('trellis_db_pool_idle', 'Open connections waiting in the pool.', (s) => s.idle);
  pool('trellis_db_pool_waiting', 'Queries waiting for a free connection.', (s) => s.waiting);

  return {
    registry,
    recent: createRecentRequests(),
    observeRequest(method, route, status, seconds) {
      const labels = { method, route, status: String(status) };
      requests.inc(labels);
      duration.observe(labels, seconds);
    },
    countRateLimited: (family) => limited.inc({ family }),
  };
}
