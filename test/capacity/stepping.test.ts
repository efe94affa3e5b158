import { describe, expect, test } from 'vitest';
import { capacityStatement, type StepReport } from '../../src/capacity/harness.js';
import {
  capacity,
  holds,
  nextUsers,
  type Budget,
  type SearchOptions,
  type StepResult,
} from '../../src/capacity/stepping.js';

const budget: Budget = { p99Ms: 100, maxErrorRate: 0.01 };
const search: SearchOptions = { startUsers: 10, maxUsers: 5000, resolution: 0.1, maxSteps: 20 };

/** A system whose p99 passes the budget exactly above `limit` users. */
const system =
  (limit: number) =>
  (users: number): StepResult => ({ users, p99: users <= limit ? 50 : 150, errorRate: 0, perSecond: users });

function drive(at: (users: number) => StepResult, options = search): StepResult[] {
  const history: StepResult[] = [];
  for (let n = nextUsers(history, budget, options); n !== undefined; n = nextUsers(history, budget, options))
    history.push(at(n));
  return history;
}

describe('the capacity search', () => {
  test('doubles until the budget breaks, then narrows to within the resolution', () => {
    const history = drive(system(700));
    expect(history.slice(0, 8).map((s) => s.users)).toEqual([10, 20, 40, 80, 160, 320, 640, 1280]);
    const found = capacity(history, budget);
    expect(found).toBeLessThanOrEqual(700);
    expect(found).toBeGreaterThanOrEqual(700 * 0.9);
  });

  test.each([
    [1, 1],
    [37, 35],
    [5000, 5000],
    [100_000, 5000],
  ])('a system that holds %d users is found at %d or within 10 %% below', (limit, atLeast) => {
    const found = capacity(drive(system(limit)), budget);
    expect(found).toBeLessThanOrEqual(Math.min(limit, 5000));
    expect(found).toBeGreaterThanOrEqual(Math.floor(atLeast * 0.9));
  });

  test('a system that holds nobody ends at one user with capacity 0', () => {
    const history = drive((users) => ({ users, p99: 500, errorRate: 0, perSecond: 0 }));
    expect(capacity(history, budget)).toBe(0);
    expect(history.length).toBeLessThan(10);
  });

  test('errors over budget break a step however fast it was', () => {
    expect(holds({ users: 10, p99: 5, errorRate: 0.02, perSecond: 10 }, budget)).toBe(false);
    expect(holds({ users: 10, p99: 5, errorRate: 0.01, perSecond: 10 }, budget)).toBe(true);
    expect(holds({ users: 10, p99: NaN, errorRate: 0, perSecond: 0 }, budget)).toBe(false);
    expect(holds({ users: 10, p99: 100, errorRate: 0, perSecond: 10 }, budget)).toBe(false);
  });

  test('the number of steps is bounded', () => {
    expect(drive(system(700), { ...search, maxSteps: 3 }).length).toBe(3);
  });

  test('a noisy step that breaks below one that held does not undo the held one', () => {
    const history: StepResult[] = [
      { users: 10, p99: 20, errorRate: 0, perSecond: 10 },
      { users: 20, p99: 200, errorRate: 0, perSecond: 20 },
      { users: 40, p99: 60, errorRate: 0, perSecond: 40 },
    ];
    expect(capacity(history, budget)).toBe(40);
    expect(nextUsers(history, budget, search)).toBe(80);
  });
});

describe('the capacity statement', () => {
  const step = (users: number, ok: boolean): StepReport => ({
    users,
    p99: ok ? 10 : 500,
    p50: 1,
    p95: 5,
    errors: 0,
    errorRate: 0,
    perSecond: users,
    holds: ok,
    serverCpuPercent: undefined,
    serverRssMb: undefined,
  });
  test.each([
    [
      [step(10, true), step(20, false), step(15, true)],
      15,
      'this machine sustains 15 concurrent chat users at p99 < 100 ms',
    ],
    [
      [step(10, true), step(20, true)],
      20,
      'this machine sustains at least 20 concurrent chat users at p99 < 100 ms (the search stopped at its ceiling before the budget broke)',
    ],
    [[step(10, false), step(5, false)], 0, 'no load held p99 < 100 ms with at most 1.0 % errors'],
  ])('%#', (steps, best, sentence) => {
    expect(capacityStatement(steps, best, 'chat users', budget)).toBe(sentence);
  });
});
