import { describe, expect, test } from 'vitest';
import { capacityStatement, type StepReport } from '../../src/capacity/harness.js';
import { parseMetrics, targetSubject } from '../../src/capacity/remote.js';

describe('who the capacity statement is about', () => {
  test.each<[string[], number | undefined, string]>([
    [['http://a:1'], undefined, 'the Trellis at http://a:1'],
    [['http://a:1'], 1, 'the Trellis at http://a:1'],
    [['http://lb:8080'], 3, '3 instances behind http://lb:8080'],
    [['http://a:1', 'http://b:2'], undefined, '2 instances at http://a:1, http://b:2'],
  ])('%j with --instances %s', (urls, instances, subject) => expect(targetSubject(urls, instances)).toBe(subject));

  const step = (users: number, holds: boolean): StepReport => ({
    phase: 'search',
    seconds: 10,
    databaseCpuPercent: undefined,
    generators: [],
    generatorLimit: undefined,
    settledSeconds: 0,
    users,
    perSecond: users,
    p50: 1,
    p95: 2,
    p99: holds ? 10 : 500,
    errors: 0,
    errorRate: 0,
    holds,
    serverCpuPercent: undefined,
    serverRssMb: undefined,
  });
  const budget = { p99Ms: 100, maxErrorRate: 0.01 };

  test.each<[StepReport[], number, { subject: string; instances: number } | undefined, string]>([
    [[step(20, true), step(40, false)], 20, undefined, 'this machine sustains 20 concurrent users at p99 < 100 ms'],
    [
      [step(20, true), step(40, true)],
      40,
      { subject: '3 instances behind http://lb', instances: 3 },
      '3 instances behind http://lb sustain at least 40 concurrent users at p99 < 100 ms (the search stopped before the budget broke)',
    ],
    [[step(20, false)], 0, undefined, 'no load held p99 < 100 ms with at most 1.0 % errors'],
  ])('%#', (steps, best, target, statement) =>
    expect(capacityStatement(steps, best, 'users', budget, target)).toBe(statement),
  );
});

describe('an instance’s CPU and memory from its /metrics', () => {
  test.each<[string, string, { cpuSeconds: number; rssBytes: number } | undefined]>([
    [
      'prom-client defaults',
      '# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.5\nprocess_resident_memory_bytes 1.5e8\n',
      { cpuSeconds: 12.5, rssBytes: 150_000_000 },
    ],
    [
      'with labels',
      'process_cpu_seconds_total{worker="1"} 3\nprocess_resident_memory_bytes{worker="1"} 10\n',
      { cpuSeconds: 3, rssBytes: 10 },
    ],
    [
      'a similar name is not the metric',
      'process_cpu_seconds_total_x 3\nprocess_resident_memory_bytes 10\n',
      undefined,
    ],
    ['missing memory', 'process_cpu_seconds_total 3\n', undefined],
    ['not a number', 'process_cpu_seconds_total abc\nprocess_resident_memory_bytes 10\n', undefined],
    ['an HTML error page', '<html>502 Bad Gateway</html>', undefined],
  ])('%s', (_name, text, sample) => expect(parseMetrics(text)).toEqual(sample));
});
