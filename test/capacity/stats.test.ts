import { describe, expect, test } from 'vitest';
import { errorRate, LatencyRecorder, percentile } from '../../src/capacity/stats.js';
import { parseProcStat } from '../../src/capacity/target.js';
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
    expect(byOp.read).toMatchObject({ count: 100, errors: 0, perSecond: 10, p50: 50, p95: 95, p99: 99, max: 100 });
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

  test('memory is bounded: past 200,000 samples a reservoir keeps percentiles right', () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const r = new LatencyRecorder(random);
    // 400,000 samples, uniform over 0..999: the reservoir must still say p50 ≈ 500, p99 ≈ 990.
    for (let i = 0; i < 400_000; i++) r.record('op', (i * 7919) % 1000);
    const s = r.summary(1)[0];
    expect(s?.count).toBe(400_000);
    expect(s?.p50).toBeGreaterThan(480);
    expect(s?.p50).toBeLessThan(520);
    expect(s?.p99).toBeGreaterThan(980);
  });
});

describe('parseProcStat', () => {
  const status = 'Name:\tnode\nVmRSS:\t  123456 kB\nThreads:\t11\n';
  test('reads utime+stime after a command name holding spaces and parentheses', () => {
    const stat = '4242 (node (main) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 11 0 100 0 0';
    expect(parseProcStat(stat, status)).toEqual({ cpuSeconds: 4, rssBytes: 123456 * 1024 });
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
