/**
 * The closed-loop load of the developer benchmarks: a fixed number of loops, each sending its next
 * request as soon as the last one answered, for a fixed time; throughput and latency over it.
 * The arithmetic (percentiles) is src/capacity/stats.ts's. The loop itself stays here because
 * it does another job than the capacity harness (src/capacity/runner.ts): that one paces virtual
 * users with think time and steps their number until a latency budget breaks; this one measures
 * the most a fixed concurrency gets through, the figure docs/benchmarks.md compares to a floor.
 */
import { percentile } from '../src/capacity/index.js';

export interface LoadResult {
  readonly ops: number;
  readonly errors: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
}

/**
 * Runs `op` from `concurrency` loops for `seconds` (after a warm-up), bounded in time and count.
 * `op` receives its loop's index so it can keep per-loop state (a refresh token).
 */
export async function runLoad(
  op: (loop: number) => Promise<void>,
  options: { concurrency: number; seconds: number; warmupSeconds?: number; maxOps?: number },
): Promise<LoadResult> {
  const { concurrency, seconds, warmupSeconds = 1, maxOps = 1_000_000 } = options;
  const latencies: number[] = [];
  let errors = 0;
  let measuring = false;
  const warmupEnd = performance.now() + warmupSeconds * 1000;
  const end = warmupEnd + seconds * 1000;
  const loops = Array.from({ length: concurrency }, async (_, loop) => {
    while (performance.now() < end && latencies.length < maxOps) {
      const started = performance.now();
      try {
        await op(loop);
        measuring = started >= warmupEnd;
        if (measuring) latencies.push(performance.now() - started);
      } catch (err) {
        if (process.env.BENCH_DEBUG) console.error(err);
        if (started >= warmupEnd) errors++;
      }
    }
  });
  await Promise.all(loops);
  latencies.sort((a, b) => a - b);
  return {
    ops: latencies.length,
    errors,
    perSecond: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/** The median of several runs of one scenario, figure by figure. */
export function medianResult(runs: readonly LoadResult[]): LoadResult {
  const mid = (pick: (r: LoadResult) => number) => {
    const sorted = runs.map(pick).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? NaN;
  };
  return {
    ops: mid((r) => r.ops),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    perSecond: mid((r) => r.perSecond),
    p50: mid((r) => r.p50),
    p99: mid((r) => r.p99),
  };
}
