/** Latency bookkeeping for the load harness: pure, so its arithmetic is tested by tables. */
import { errorMessage } from '../errors.js';

/** The p-th percentile (nearest rank) of ascending samples; NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? NaN;
}

export interface OpSummary {
  readonly op: string;
  readonly count: number;
  readonly errors: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  /** The first failure's message, so a report with errors says what they were. */
  readonly firstError?: string;
}

/** Keeps at most this many samples per operation; beyond it, a uniform reservoir of them. */
const MAX_SAMPLES = 200_000;

/**
 * Latencies and errors per operation ("read history", "post message") over one measured window.
 * A reservoir bounds memory on long runs while keeping percentiles unbiased.
 */
interface Entry {
  samples: number[];
  seen: number;
  errors: number;
  firstError?: string;
}

export class LatencyRecorder {
  private readonly ops = new Map<string, Entry>();
  private frozen = false;

  constructor(private readonly random: () => number = Math.random) {}

  private entry(op: string) {
    let e = this.ops.get(op);
    if (!e) {
      e = { samples: [], seen: 0, errors: 0 };
      this.ops.set(op, e);
    }
    return e;
  }

  /** Ends the window: what arrives later (a delivery still in flight) is not counted. */
  freeze(): void {
    this.frozen = true;
  }

  record(op: string, ms: number): void {
    if (this.frozen) return;
    const e = this.entry(op);
    e.seen++;
    if (e.samples.length < MAX_SAMPLES) e.samples.push(ms);
    else {
      const slot = Math.floor(this.random() * e.seen);
      if (slot < MAX_SAMPLES) e.samples[slot] = ms;
    }
  }

  error(op: string, cause?: unknown): void {
    if (this.frozen) return;
    const e = this.entry(op);
    e.errors++;
    if (cause !== undefined && e.firstError === undefined) e.firstError = errorMessage(cause).slice(0, 300);
  }

  /** Times `work` as `op`; a rejection counts as an error of `op` and is not rethrown. */
  async time(op: string, work: () => Promise<unknown>): Promise<boolean> {
    const started = performance.now();
    try {
      await work();
      this.record(op, performance.now() - started);
      return true;
    } catch (err) {
      this.error(op, err);
      return false;
    }
  }

  summary(seconds: number): OpSummary[] {
    return [...this.ops].map(([op, e]) => ({
      ...summarize(op, e.samples, e.seen, e.errors, seconds),
      ...(e.firstError === undefined ? {} : { firstError: e.firstError }),
    }));
  }

  /** Every operation together: the figures the capacity search judges. */
  overall(seconds: number): OpSummary {
    const all = [...this.ops.values()];
    const firstError = all.find((e) => e.firstError !== undefined)?.firstError;
    return {
      ...summarize(
        'all',
        all.flatMap((e) => e.samples),
        all.reduce((n, e) => n + e.seen, 0),
        all.reduce((n, e) => n + e.errors, 0),
        seconds,
      ),
      ...(firstError === undefined ? {} : { firstError }),
    };
  }
}

function summarize(op: string, samples: readonly number[], count: number, errors: number, seconds: number): OpSummary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    op,
    count,
    errors,
    perSecond: seconds > 0 ? count / seconds : NaN,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? NaN,
  };
}

/** Errors as a share of attempts (0 when nothing was attempted). */
export function errorRate(s: Pick<OpSummary, 'count' | 'errors'>): number {
  const attempts = s.count + s.errors;
  return attempts === 0 ? 0 : s.errors / attempts;
}
