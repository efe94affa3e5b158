/**
 * The observability page's numbers, summed from the server's own Prometheus registry (the series
 * /metrics serves): requests by status class, latency percentiles from the duration histogram, the
 * pool's connections. The page polls and turns the counters into rates itself.
 */
import type { Metrics } from '../platform/metrics.js';

interface Sample {
  readonly value: number;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly metricName?: string;
}

export interface MetricsSummary {
  readonly at: number;
  readonly requests: { total: number; byClass: Record<string, number> };
  readonly errors: number;
  /** Seconds, from the histogram's buckets (the upper bound of the bucket the rank falls in), since start. */
  readonly latency: { p50: number | null; p95: number | null; p99: number | null };
  /** The duration histogram's cumulative buckets (`le` in seconds, null for +Inf): a poller's deltas give a window's percentiles. */
  readonly buckets: { le: number | null; count: number }[];
  readonly db: { inUse: number; idle: number; waiting: number };
  /** Open sockets and joined channels, messages in and out since start (this process). */
  readonly realtime: { connections: number; channels: number; messagesIn: number; messagesOut: number };
  readonly process: { rssBytes: number; heapUsedBytes: number; uptimeSeconds: number };
  /** Requests by route pattern (the top ten), Studio's own calls included. */
  readonly routes: { route: string; count: number }[];
}

/** The bucket upper bound under which `rank` of the requests fall (null without requests). */
export function percentile(buckets: readonly { le: number; count: number }[], q: number): number | null {
  const total = buckets.find((b) => b.le === Infinity)?.count ?? 0;
  if (total === 0) return null;
  const rank = total * q;
  const hit = buckets.find((b) => b.count >= rank);
  return hit && hit.le !== Infinity ? hit.le : (buckets.filter((b) => b.le !== Infinity).at(-1)?.le ?? null);
}

export async function summarizeMetrics(metrics: Metrics, now = Date.now()): Promise<MetricsSummary> {
  const all = (await metrics.registry.getMetricsAsJSON()) as unknown as { name: string; values: Sample[] }[];
  const series = (name: string) => all.find((m) => m.name === name)?.values ?? [];
  const byClass: Record<string, number> = {};
  const byRoute = new Map<string, number>();
  let total = 0;
  for (const s of series('trellis_http_requests_total')) {
    total += s.value;
    const cls = `${String(s.labels.status).slice(0, 1)}xx`;
    byClass[cls] = (byClass[cls] ?? 0) + s.value;
    const route = String(s.labels.route);
    byRoute.set(route, (byRoute.get(route) ?? 0) + s.value);
  }
  const buckets = new Map<number, number>();
  for (const s of series('trellis_http_request_duration_seconds')) {
    if (s.metricName !== 'trellis_http_request_duration_seconds_bucket') continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + s.value);
  }
  const sorted = [...buckets].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
  const gauge = (name: string) => series(name)[0]?.value ?? 0;
  const sum = (name: string) => series(name).reduce((n, s) => n + s.value, 0);
  const memory = process.memoryUsage();
  return {
    at: now,
    requests: { total, byClass },
    errors: byClass['5xx'] ?? 0,
    latency: { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), p99: percentile(sorted, 0.99) },
    buckets: sorted.map((b) => ({ le: b.le === Infinity ? null : b.le, count: b.count })),
    db: {
      inUse: gauge('trellis_db_pool_in_use'),
      idle: gauge('trellis_db_pool_idle'),
      waiting: gauge('trellis_db_pool_waiting'),
    },
    realtime: {
      connections: gauge('trellis_realtime_connections'),
      channels: gauge('trellis_realtime_channels'),
      messagesIn: sum('trellis_realtime_messages_in_total'),
      messagesOut: sum('trellis_realtime_messages_out_total'),
    },
    process: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, uptimeSeconds: Math.round(process.uptime()) },
    routes: [...byRoute]
      .map(([route, count]) => ({ route, count }))
      .sort((a, b) => b.count - a.count)
      .slice(0, 10),
  };
}
