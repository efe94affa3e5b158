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

/** Buckets grow by 1 % from 1 µs: a percentile read from them is within 0.5 % of the sample's value. */
const GROWTH = 1.01;
const SMALLEST_MS = 0.001;
const LOG_GROWTH = Math.log(GROWTH);

/** The bucket of a latency: 0 for anything under a microsecond. */
export function bucketOf(ms: number): number {
  return ms < SMALLEST_MS ? 0 : 1 + Math.floor(Math.log(ms / SMALLEST_MS) / LOG_GROWTH);
}

/** The value a bucket stands for: the geometric middle of its bounds. */
function bucketValue(bucket: number): number {
  return bucket === 0 ? 0 : SMALLEST_MS * GROWTH ** (bucket - 0.5);
}

/** A histogram as it travels between processes: [bucket, count] pairs, ascending. */
export interface HistogramSnapshot {
  readonly buckets: readonly (readonly [number, number])[];
  readonly count: number;
  readonly min: number;
  readonly max: number;
}

/**
 * Latencies in log buckets: bounded memory (a few hundred buckets for any run), percentiles
 * within 0.5 %, the exact minimum and maximum, and histograms of several generators add up.
 */
export class Histogram {
  private readonly counts = new Map<number, number>();
  private total = 0;
  private low = Infinity;
  private high = -Infinity;

  record(ms: number, times = 1): void {
    if (!Number.isFinite(ms) || times <= 0) return;
    const b = bucketOf(Math.max(0, ms));
    this.counts.set(b, (this.counts.get(b) ?? 0) + times);
    this.total += times;
    this.low = Math.min(this.low, ms);
    this.high = Math.max(this.high, ms);
  }

  get count(): number {
    return this.total;
  }

  /** Adds another histogram's samples (another generator's, or a snapshot of one). */
  merge(other: Histogram | HistogramSnapshot): void {
    const s = other instanceof Histogram ? other.snapshot() : other;
    for (const [b, n] of s.buckets) this.counts.set(b, (this.counts.get(b) ?? 0) + n);
    this.total += s.count;
    if (s.count > 0) {
      this.low = Math.min(this.low, s.min);
      this.high = Math.max(this.high, s.max);
    }
  }

  /** Nearest rank, as percentile() of the sorted samples; NaN when empty. */
  percentile(p: number): number {
    if (this.total === 0) return NaN;
    const rank = Math.min(this.total, Math.max(1, Math.ceil((p / 100) * this.total)));
    // The first and last ranks are known exactly.
    if (rank === 1) return this.low;
    if (rank === this.total) return this.high;
    let seen = 0;
    for (const b of [...this.counts.keys()].sort((x, y) => x - y)) {
      seen += this.counts.get(b) ?? 0;
      // The sample lies in this bucket and between the extremes the histogram saw.
      if (seen >= rank) return Math.min(this.high, Math.max(this.low, bucketValue(b)));
    }
    return this.high;
  }

  get max(): number {
    return this.total === 0 ? NaN : this.high;
  }

  snapshot(): HistogramSnapshot {
    return {
      buckets: [...this.counts].sort((x, y) => x[0] - y[0]),
      count: this.total,
      min: this.total === 0 ? 0 : this.low,
      max: this.total === 0 ? 0 : this.high,
    };
  }

  static from(snapshot: HistogramSnapshot): Histogram {
    const h = new Histogram();
    h.merge(snapshot);
    return h;
  }
}

/** One operation's window as a generator reports it. */
export interface OpSnapshot {
  readonly op: string;
  readonly latencies: HistogramSnapshot;
  readonly errors: number;
  readonly firstError?: string;
}

interface Entry {
  readonly latencies: Histogram;
  errors: number;
  firstError?: string;
}

/**
 * Latencies and errors per operation ("read history", "post message") over one measured window,
 * in histograms, so memory stays bounded however long the run and generators' windows merge.
 */
export class LatencyRecorder {
  private readonly ops = new Map<string, Entry>();
  private frozen = false;

  private entry(op: string) {
    let e = this.ops.get(op);
    if (!e) {
      e = { latencies: new Histogram(), errors: 0 };
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
    this.entry(op).latencies.record(ms);
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

  /** The window as it travels from a generator to the harness. */
  snapshot(): OpSnapshot[] {
    return [...this.ops].map(([op, e]) => ({
      op,
      latencies: e.latencies.snapshot(),
      errors: e.errors,
      ...(e.firstError === undefined ? {} : { firstError: e.firstError }),
    }));
  }

  /** Adds a generator's window: counts and histograms add up, the first error seen stays. */
  merge(snapshot: readonly OpSnapshot[]): void {
    for (const s of snapshot) {
      const e = this.entry(s.op);
      e.latencies.merge(s.latencies);
      e.errors += s.errors;
      if (e.firstError === undefined && s.firstError !== undefined) e.firstError = s.firstError;
    }
  }

  /** Several generators' windows as one. */
  static merged(snapshots: readonly (readonly OpSnapshot[])[]): LatencyRecorder {
    const r = new LatencyRecorder();
    for (const s of snapshots) r.merge(s);
    return r;
  }

  summary(seconds: number): OpSummary[] {
    return [...this.ops].map(([op, e]) => ({
      ...summarize(op, e.latencies, e.errors, seconds),
      ...(e.firstError === undefined ? {} : { firstError: e.firstError }),
    }));
  }

  /** Every operation together: the figures the capacity search judges. */
  overall(seconds: number): OpSummary {
    const all = new Histogram();
    for (const e of this.ops.values()) all.merge(e.latencies);
    const entries = [...this.ops.values()];
    const firstError = entries.find((e) => e.firstError !== undefined)?.firstError;
    return {
      ...summarize(
        'all',
        all,
        entries.reduce((n, e) => n + e.errors, 0),
        seconds,
      ),
      ...(firstError === undefined ? {} : { firstError }),
    };
  }
}

function summarize(op: string, latencies: Histogram, errors: number, seconds: number): OpSummary {
  return {
    op,
    count: latencies.count,
    errors,
    perSecond: seconds > 0 ? latencies.count / seconds : NaN,
    p50: latencies.percentile(50),
    p95: latencies.percentile(95),
    p99: latencies.percentile(99),
    max: latencies.max,
  };
}

/** Errors as a share of attempts (0 when nothing was attempted). */
export function errorRate(s: Pick<OpSummary, 'count' | 'errors'>): number {
  const attempts = s.count + s.errors;
  return attempts === 0 ? 0 : s.errors / attempts;
}
