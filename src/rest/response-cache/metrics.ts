/** The response cache's figures on /metrics: hits and misses (the ratio's inputs), forgetting and its lag. */
import { Counter, Histogram, type Registry } from 'prom-client';

export interface CacheFigures {
  /** hit, miss (looked up, read from the database), bypass (not cacheable now: the reason's word). */
  request(result: 'hit' | 'miss' | 'bypass'): void;
  /** One table's entries forgotten on a change; `lagSeconds` from its commit. */
  invalidated(lagSeconds: number): void;
}

/** Get or make: two REST mounts on one registry (tests) share the figures instead of failing to register. */
function metric<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function cacheFigures(registry: Registry): CacheFigures {
  const requests = metric(
    registry,
    'trellis_rest_cache_requests_total',
    () =>
      new Counter({
        name: 'trellis_rest_cache_requests_total',
        help: 'Data API reads of cached relations: hit (answered from the cache), miss (read and stored), bypass (not cacheable at that moment: change stream or store down, or the read reaches what the cache cannot follow).',
        labelNames: ['result'] as const,
        registers: [registry],
      }),
  );
  const invalidations = metric(
    registry,
    'trellis_rest_cache_invalidations_total',
    () =>
      new Counter({
        name: 'trellis_rest_cache_invalidations_total',
        help: "Tables whose cached reads were forgotten because a committed change reached this instance's cache.",
        registers: [registry],
      }),
  );
  const lag = metric(
    registry,
    'trellis_rest_cache_invalidation_lag_seconds',
    () =>
      new Histogram({
        name: 'trellis_rest_cache_invalidation_lag_seconds',
        help: "From a change's commit (its WAL commit timestamp) to its table's cached reads being forgotten here.",
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers: [registry],
      }),
  );
  return {
    request: (result) => requests.inc({ result }),
    invalidated(lagSeconds) {
      invalidations.inc();
      lag.observe(Math.max(0, lagSeconds));
    },
  };
}
