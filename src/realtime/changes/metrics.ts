/** The change feed's figures on /metrics, when the hub is given the registry. */
import { Counter, Histogram, type Registry } from 'prom-client';

export interface ChangeMetrics {
  changeReceived(): void;
  delivered(count: number): void;
  authorised(seconds: number): void;
}

export const noMetrics: ChangeMetrics = {
  changeReceived: () => undefined,
  delivered: () => undefined,
  authorised: () => undefined,
};

export function changeMetrics(registry: Registry | undefined): ChangeMetrics {
  if (!registry) return noMetrics;
  const received = new Counter({
    name: 'trellis_realtime_changes_total',
    help: 'Committed row changes this instance heard from the WAL consumer while it had postgres_changes subscribers.',
    registers: [registry],
  });
  const deliveries = new Counter({
    name: 'trellis_realtime_change_deliveries_total',
    help: 'postgres_changes messages handed to subscribers (one per subscriber per change).',
    registers: [registry],
  });
  const authorise = new Histogram({
    name: 'trellis_realtime_change_authorise_seconds',
    help: "Time to filter and authorise one committed transaction (one bus message) for all of this instance's subscribers.",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return {
    changeReceived: () => received.inc(),
    delivered: (count) => deliveries.inc(count),
    authorised: (seconds) => authorise.observe(seconds),
  };
}
