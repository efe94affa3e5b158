/** The sender's Prometheus series (GET /metrics): outcomes of net.http_* requests and webhooks. */
import { Counter, type Registry } from 'prom-client';
import type { SendOutcome } from './send.js';

export type CountOutcome = (kind: 'webhook' | 'net', outcome: SendOutcome, retried: boolean) => void;

export function netMetrics(registry: Registry | undefined): CountOutcome {
  if (!registry) return () => undefined;
  const outcomes = new Counter({
    name: 'trellis_net_requests_total',
    help: 'net.http_* requests and database webhooks sent, by kind (net, webhook) and outcome (a status class 2xx…5xx, timeout, error), and whether another attempt follows.',
    labelNames: ['kind', 'outcome', 'retried'] as const,
    registers: [registry],
  });
  return (kind, outcome, retried) =>
    outcomes.inc({
      kind,
      outcome: outcome.kind === 'response' ? `${Math.floor(outcome.status / 100)}xx` : outcome.kind,
      retried: String(retried),
    });
}
