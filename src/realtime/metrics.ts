/** Realtime's Prometheus metrics, registered on the server's registry. */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Metrics } from '../platform/metrics.js';

export type DropReason =
  'rate_limit' | 'tenant_rate_limit' | 'payload_too_large' | 'slow_consumer' | 'bus_unavailable' | 'bad_frame';

export interface RealtimeMetrics {
  readonly connections: Gauge;
  readonly channels: Gauge;
  /** Counted in plain numbers on the hot path and handed to Prometheus when it scrapes. */
  countIn(n: number): void;
  countOut(n: number): void;
  readonly dropped: Counter<'reason'>;
  /** Seconds from a broadcast entering Trellis (any instance) to its frames being written to the sockets here. */
  readonly latency: Histogram;
}

export function createRealtimeMetrics(metrics: Metrics): RealtimeMetrics {
  const registers = [metrics.registry];
  let pendingIn = 0;
  let pendingOut = 0;
  new Counter({
    name: 'trellis_realtime_messages_in_total',
    help: 'Frames received from clients (rate() gives messages in per second).',
    registers,
    collect() {
      this.inc(pendingIn);
      pendingIn = 0;
    },
  });
  new Counter({
    name: 'trellis_realtime_messages_out_total',
    help: 'Frames sent to clients (rate() gives messages out per second).',
    registers,
    collect() {
      this.inc(pendingOut);
      pendingOut = 0;
    },
  });
  return {
    countIn: (n) => void (pendingIn += n),
    countOut: (n) => void (pendingOut += n),
    connections: new Gauge({ name: 'trellis_realtime_connections', help: 'Open realtime sockets.', registers }),
    channels: new Gauge({ name: 'trellis_realtime_channels', help: 'Joined channels, over all sockets.', registers }),
    dropped: new Counter({
      name: 'trellis_realtime_dropped_total',
      help: 'Messages refused or not delivered, and sockets disconnected, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    latency: new Histogram({
      name: 'trellis_realtime_delivery_seconds',
      help: "Time from a broadcast entering Trellis to its frames being written to this instance's sockets.",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
  };
}
