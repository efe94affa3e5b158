import { describe, expect, test } from 'vitest';
import { bucketOf, errorRate, Histogram, LatencyRecorder, percentile } from '../../src/capacity/stats.js';
import { parseProcStat, procCpuSeconds, procParent } from '../../src/capacity/target.js';
import { syntheticUserId } from '../../src/capacity/tokens.js';

describe('percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  test.each([
    [[], 50, NaN],
    [[7], 0, 7],
    [[7], 99, 7],
    [[1, 2], 50, 1],
    [[1, 2], 51, 2],
    [hundred, 50, 50],
    [hundred, 95, 95],
    [hundred, 99, 99],
    [hundred, 100, 100],
    [[1, 2, 3, 4, 1000], 99, 1000],
  ])('percentile(%j, %d) = %d', (sorted, p, expected) => {
    expect(percentile(sorted, p)).toEqual(expected);
  });
});

describe('LatencyRecorder', () => {
  test('summarises each operation and all together, errors apart from latencies', async () => {
    const r = new LatencyRecorder();
    for (let i = 1; i <= 100; i++) r.record('read', i);
    r.record('write', 500);
    r.error('write');
    expect(await r.time('failing', () => Promise.reject(new Error('no')))).toBe(false);
    expect(await r.time('ok', () => Promise.resolve())).toBe(true);
    const byOp = Object.fromEntries(r.summary(10).map((s) => [s.op, s]));
    expect(byOp.read).toMatchObject({ count: 100, errors: 0, perSecond: 10, max: 100 });
    // Percentiles come from 1 % buckets: within half a percent of the nearest-rank sample.
    expect(byOp.read?.p50).toBeCloseTo(50, 0);
    expect(Math.abs((byOp.read?.p95 ?? 0) / 95 - 1)).toBeLessThan(0.005);
    expect(Math.abs((byOp.read?.p99 ?? 0) / 99 - 1)).toBeLessThan(0.005);
    // A lone sample is exact: the extremes bound the bucket's value.
    expect(byOp.write).toMatchObject({ count: 1, errors: 1, p99: 500 });
    expect(byOp.failing).toMatchObject({ count: 0, errors: 1, firstError: 'no' });
    expect(byOp.write?.firstError).toBeUndefined();
    const all = r.overall(10);
    expect(all.firstError).toBe('no');
    expect(all.count).toBe(102);
    expect(all.errors).toBe(2);
    expect(all.max).toBe(500);
    expect(errorRate(all)).toBeCloseTo(2 / 104);
    expect(errorRate({ count: 0, errors: 0 })).toBe(0);
  });

  test('a frozen recorder ignores what arrives after its window', () => {
    const r = new LatencyRecorder();
    r.record('delivered', 5);
    r.freeze();
    r.record('delivered', 500);
    r.error('delivered');
    expect(r.summary(1)).toEqual([expect.objectContaining({ op: 'delivered', count: 1, errors: 0, max: 5 })]);
  });

  test('memory is bounded: 400,000 samples fill a few hundred buckets, percentiles still right', () => {
    const r = new LatencyRecorder();
    // 400,000 samples, uniform over 0..999: p50 ≈ 500, p99 ≈ 990.
    for (let i = 0; i < 400_000; i++) r.record('op', (i * 7919) % 1000);
    const [snapshot] = r.snapshot();
    expect(snapshot?.latencies.count).toBe(400_000);
    expect(snapshot?.latencies.buckets.length).toBeLessThan(1000);
    const s = r.summary(1)[0];
    expect(s?.count).toBe(400_000);
    expect(s?.p50).toBeGreaterThan(495);
    expect(s?.p50).toBeLessThan(505);
    expect(s?.p99).toBeGreaterThan(985);
    expect(s?.p99).toBeLessThan(995);
  });
});

describe('histograms of several load generators merge', () => {
  const samples = Array.from({ length: 5000 }, (_, i) => 0.05 + ((i * 7919) % 4000) / 10);

  test('two generators merged give what one recorder of all their samples gives', () => {
    const one = new LatencyRecorder();
    const a = new LatencyRecorder();
    const b = new LatencyRecorder();
    samples.forEach((ms, i) => {
      one.record(i % 3 ? 'read' : 'write', ms);
      (i % 2 ? a : b).record(i % 3 ? 'read' : 'write', ms);
    });
    one.error('write', new Error('first'));
    b.error('write', new Error('first'));
    a.error('read');
    one.error('read');
    // Through JSON, as the snapshots travel over IPC.
    const merged = LatencyRecorder.merged(
      [a.snapshot(), b.snapshot()].map((s) => JSON.parse(JSON.stringify(s)) as typeof s),
    );
    const byOp = (r: LatencyRecorder) => Object.fromEntries(r.summary(5).map((s) => [s.op, s]));
    expect(byOp(merged)).toEqual(byOp(one));
    expect(merged.overall(5)).toEqual(one.overall(5));
    expect(merged.overall(5)).toMatchObject({ count: 5000, errors: 2, firstError: 'first' });
  });

  test('an empty generator changes nothing; percentiles stay between the extremes', () => {
    const h = new Histogram();
    for (const ms of [3, 3.001, 7]) h.record(ms);
    h.merge(new Histogram());
    h.merge({ buckets: [], count: 0, min: 0, max: 0 });
    expect(h.count).toBe(3);
    expect(h.percentile(0)).toBeGreaterThanOrEqual(3);
    expect(h.percentile(100)).toBe(7);
    expect(h.max).toBe(7);
    expect(new Histogram().percentile(50)).toBeNaN();
    expect(new Histogram().max).toBeNaN();
  });

  test('merged percentiles match the exact ones within half a percent', () => {
    const h = new Histogram();
    const parts = [new Histogram(), new Histogram(), new Histogram()];
    samples.forEach((ms, i) => parts[i % 3]?.record(ms));
    for (const p of parts) h.merge(Histogram.from(p.snapshot()));
    const sorted = [...samples].sort((x, y) => x - y);
    for (const p of [1, 50, 90, 95, 99, 99.9]) {
      const exact = percentile(sorted, p);
      expect(Math.abs(h.percentile(p) / exact - 1), `p${p}`).toBeLessThan(0.005);
    }
  });

  test('buckets: under a microsecond is bucket 0, and each grows by 1 %', () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(0.0005)).toBe(0);
    expect(bucketOf(0.001)).toBe(1);
    expect(bucketOf(100)).toBeLessThan(bucketOf(101.5));
    expect(bucketOf(100)).toBe(bucketOf(100.5));
    // Ten minutes in about 2,000 buckets.
    expect(bucketOf(600_000)).toBeLessThan(2100);
  });

  test('a non-finite latency is not recorded', () => {
    const h = new Histogram();
    h.record(NaN);
    h.record(Infinity);
    expect(h.count).toBe(0);
  });
});

describe('parseProcStat', () => {
  const status = 'Name:\tnode\nVmRSS:\t  123456 kB\nThreads:\t11\n';
  test('reads utime+stime after a command name holding spaces and parentheses', () => {
    const stat = '4242 (node (main) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 11 0 100 0 0';
    expect(parseProcStat(stat, status)).toEqual({ cpuSeconds: 4, rssBytes: 123456 * 1024 });
  });
  test('CPU with and without the reaped children (cutime, cstime), and the parent', () => {
    const stat = '77 (postgres) S 12 77 77 0 -1 4194560 100 0 0 0 250 150 600 400 20 0 1 0 100 0 0';
    expect(procCpuSeconds(stat, false)).toBe(4);
    expect(procCpuSeconds(stat, true)).toBe(14);
    expect(procParent(stat)).toBe(12);
    expect(procCpuSeconds('77 (x) S 1', true)).toBeUndefined();
    expect(procParent('garbage')).toBeUndefined();
  });
  test('a malformed file gives undefined', () => {
    expect(parseProcStat('garbage', status)).toBeUndefined();
    expect(parseProcStat('1 (x) S 1 1 1 0 -1 0 0 0 0 0 5 5', 'Name: x\n')).toBeUndefined();
  });
});

describe('syntheticUserId', () => {
  test.each([0, 1, 0xffffffff, -1, 0x5a5a5a5a ^ 0xf0f0f0f0])('run %d gives a valid uuid', (run) => {
    expect(syntheticUserId(run, 42)).toMatch(/^[0-9a-f]{8}-0000-4000-8000-00000000002a$/);
  });
});
