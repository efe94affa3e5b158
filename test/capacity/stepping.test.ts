import { describe, expect, test } from 'vitest';
import { capacityStatement, type StepReport } from '../../src/capacity/harness.js';
import {
  GENERATOR_LIMITS,
  broke,
  capacity,
  generatorLimit,
  holds,
  nextConfirmation,
  nextUsers,
  type Budget,
  type ConfirmOptions,
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

const confirm: ConfirmOptions = { maxSteps: 4, resolution: 0.1 };

/** The search, then its boundary repeated with longer steps: `long` answers those. */
function searchAndConfirm(
  short: (users: number) => StepResult,
  long: (users: number) => StepResult,
  options = search,
): { search: StepResult[]; confirmations: StepResult[]; confirmed: number } {
  const history = drive(short, options);
  const confirmations: StepResult[] = [];
  for (
    let n = nextConfirmation(history, confirmations, budget, confirm);
    n !== undefined;
    n = nextConfirmation(history, confirmations, budget, confirm)
  )
    confirmations.push(long(n));
  return { search: history, confirmations, confirmed: capacity(confirmations, budget) };
}

describe('the boundary confirmed by longer steps', () => {
  test('a steady system: the last load that held and the first that broke are repeated, and stand', () => {
    const { search: history, confirmations, confirmed } = searchAndConfirm(system(700), system(700));
    const best = capacity(history, budget);
    const firstBroken = Math.min(...history.filter((s) => s.users > best).map((s) => s.users));
    expect(confirmations.map((s) => s.users)).toEqual([best, firstBroken]);
    expect(confirmed).toBe(best);
  });

  test('short steps that flattered the system: the repeat breaks, and the figure comes down to what holds', () => {
    // Short steps pass up to 900 users, longer ones only up to 600.
    const { confirmations, confirmed } = searchAndConfirm(system(900), system(600));
    expect(confirmations[0]?.users).toBeGreaterThan(600);
    expect(holds(confirmations[0] as StepResult, budget)).toBe(false);
    expect(confirmed).toBeLessThanOrEqual(600);
    expect(confirmed).toBeGreaterThan(0);
    expect(confirmations.length).toBeLessThanOrEqual(confirm.maxSteps);
  });

  test('a short step that broke on a spike: the repeat holds and the figure goes up to the next that breaks', () => {
    const history: StepResult[] = [
      { users: 320, p99: 40, errorRate: 0, perSecond: 320 },
      { users: 640, p99: 90, errorRate: 0, perSecond: 640 },
      { users: 1280, p99: 900, errorRate: 0, perSecond: 900 },
      { users: 960, p99: 300, errorRate: 0, perSecond: 900 },
    ];
    const long = system(1000);
    const confirmations: StepResult[] = [];
    for (
      let n = nextConfirmation(history, confirmations, budget, confirm);
      n !== undefined;
      n = nextConfirmation(history, confirmations, budget, confirm)
    )
      confirmations.push(long(n));
    expect(confirmations.map((s) => s.users)).toEqual([640, 960, 1280, 1120]);
    expect(capacity(confirmations, budget)).toBe(960);
  });

  test('climbing from 10 and coming down from 4,000 agree within 10 %', () => {
    for (const limit of [75, 300, 700, 2500]) {
      const up = searchAndConfirm(system(limit), system(limit)).confirmed;
      const down = searchAndConfirm(system(limit), system(limit), { ...search, startUsers: 4000 }).confirmed;
      expect(up, `limit ${limit}`).toBeGreaterThanOrEqual(limit * 0.9);
      expect(down, `limit ${limit}`).toBeGreaterThanOrEqual(limit * 0.9);
      expect(Math.abs(up - down) / Math.max(up, down), `limit ${limit}`).toBeLessThanOrEqual(0.1);
    }
  });

  test('nothing to confirm when nothing held, or when confirmation is off', () => {
    const none = drive((users) => ({ users, p99: 500, errorRate: 0, perSecond: 0 }));
    expect(nextConfirmation(none, [], budget, confirm)).toBeUndefined();
    expect(nextConfirmation(drive(system(700)), [], budget, { ...confirm, maxSteps: 0 })).toBeUndefined();
  });

  test('everything breaks when repeated: it halves towards one user and confirms nothing', () => {
    const { confirmations, confirmed } = searchAndConfirm(system(700), (users) => ({
      users,
      p99: 500,
      errorRate: 0,
      perSecond: users,
    }));
    expect(confirmed).toBe(0);
    expect(confirmations.length).toBe(confirm.maxSteps);
  });
});

describe('steps the load generators could not drive', () => {
  test.each([
    [[{ lagP99Ms: 3, lagMaxMs: 40, cpuPercent: 60 }], undefined],
    [[{ lagP99Ms: 20, lagMaxMs: 20, cpuPercent: 80 }], undefined],
    [[{ lagP99Ms: 20.04, lagMaxMs: 21, cpuPercent: 10 }], "generator 1's event-loop lag p99 20.0 ms > 20 ms"],
    [
      [
        { lagP99Ms: 3, lagMaxMs: 5, cpuPercent: 10 },
        { lagP99Ms: 25, lagMaxMs: 90, cpuPercent: 10 },
      ],
      "generator 2's event-loop lag p99 25.0 ms > 20 ms",
    ],
    [[{ lagP99Ms: 1, lagMaxMs: 2, cpuPercent: 95 }], "generator 1's CPU 95.0 % > 80 % of a core"],
    [
      [{ lagP99Ms: 40, lagMaxMs: 50, cpuPercent: 99 }],
      "generator 1's event-loop lag p99 40.0 ms > 20 ms; generator 1's CPU 99.0 % > 80 % of a core",
    ],
  ])('%j: %s', (loads, reason) => {
    expect(generatorLimit(loads, GENERATOR_LIMITS)).toBe(reason);
  });

  test('a limited step neither holds nor breaks, however its latency looked', () => {
    const fast = { users: 10, p99: 5, errorRate: 0, perSecond: 10, generatorLimited: true };
    const slow = { ...fast, p99: 5000 };
    for (const s of [fast, slow]) {
      expect(holds(s, budget)).toBe(false);
      expect(broke(s, budget)).toBe(false);
    }
    expect(broke({ ...slow, generatorLimited: false }, budget)).toBe(true);
  });

  test('the search treats the limit as its ceiling: it narrows below it and never passes it', () => {
    // The target holds 5,000; the generators cannot drive more than 300.
    const history = drive((users) => ({ ...system(5000)(users), generatorLimited: users > 300 }));
    const best = capacity(history, budget);
    expect(best).toBeLessThanOrEqual(300);
    expect(best).toBeGreaterThanOrEqual(270);
    expect(Math.max(...history.map((s) => s.users))).toBe(320);
    // 320 was tried twice before the search turned back.
    expect(history.filter((s) => s.users === 320)).toHaveLength(2);
  });

  test('a step limited by a passing pause is run again, and its second result counts', () => {
    let paused = 1;
    const history = drive((users) => ({ ...system(700)(users), generatorLimited: users === 160 && paused-- > 0 }));
    expect(history.slice(0, 6).map((s) => [s.users, s.generatorLimited])).toEqual([
      [10, false],
      [20, false],
      [40, false],
      [80, false],
      [160, true],
      [160, false],
    ]);
    // The search went on past it as if nothing had happened.
    expect(capacity(history, budget)).toBeGreaterThanOrEqual(630);
  });

  test('a limited confirming step is repeated once too', () => {
    const search: StepResult[] = [
      { users: 40, p99: 40, errorRate: 0, perSecond: 40 },
      { users: 80, p99: 400, errorRate: 0, perSecond: 80 },
    ];
    const limited = { users: 40, p99: 40, errorRate: 0, perSecond: 40, generatorLimited: true };
    expect(nextConfirmation(search, [limited], budget, confirm)).toBe(40);
    expect(nextConfirmation(search, [limited, limited], budget, confirm)).toBeLessThan(40);
  });
});

describe('the capacity statement', () => {
  const step = (users: number, ok: boolean): StepReport => ({
    phase: 'search',
    seconds: 10,
    databaseCpuPercent: undefined,
    generators: [],
    generatorLimit: undefined,
    settledSeconds: 0,
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
      'this machine sustains at least 20 concurrent chat users at p99 < 100 ms (the search stopped before the budget broke)',
    ],
    [[step(10, false), step(5, false)], 0, 'no load held p99 < 100 ms with at most 1.0 % errors'],
    [
      [step(10, true), step(20, false), { ...step(15, true), phase: 'confirm' as const, seconds: 30 }],
      15,
      'this machine sustains 15 concurrent chat users at p99 < 100 ms, confirmed by a 30-second step',
    ],
    [
      [step(10, true), { ...step(20, false), generatorLimited: true, generatorLimit: 'lag' }],
      10,
      'this machine sustains at least 10 concurrent chat users at p99 < 100 ms (the load generators could not drive 20 users)',
    ],
    [
      [
        step(7, true),
        { ...step(10, false), generatorLimited: true, generatorLimit: 'lag' },
        { ...step(10, true), phase: 'confirm' as const, seconds: 10 },
      ],
      10,
      'this machine sustains at least 10 concurrent chat users at p99 < 100 ms, confirmed by a 10-second step (the search went no higher: the load generators could not drive 10 users in its shorter step)',
    ],
    [
      [
        step(80, true),
        { ...step(160, false), generatorLimited: true, generatorLimit: 'lag' },
        step(160, true),
        { ...step(160, true), phase: 'confirm' as const, seconds: 3 },
      ],
      160,
      'this machine sustains at least 160 concurrent chat users at p99 < 100 ms, confirmed by a 3-second step (the search stopped before the budget broke)',
    ],
    [
      [
        step(640, true),
        step(1280, false),
        { ...step(640, false), phase: 'confirm' as const, seconds: 10, generatorLimited: true, generatorLimit: 'lag' },
        { ...step(320, false), phase: 'confirm' as const, seconds: 10, generatorLimited: true, generatorLimit: 'lag' },
      ],
      0,
      "no load was confirmed: the load generators could not drive the 10-second repeats (the search's 640 users held in its shorter step)",
    ],
    [
      [step(240, true), step(320, false), { ...step(240, false), phase: 'confirm' as const, seconds: 3 }],
      0,
      "no load held p99 < 100 ms with at most 1.0 % errors when repeated for 3 s (the search's 240 users held in its shorter step)",
    ],
    [
      [{ ...step(10, false), generatorLimited: true, generatorLimit: 'lag' }],
      0,
      'no load held p99 < 100 ms with at most 1.0 % errors (the load generators could not drive 10 users)',
    ],
  ])('%#', (steps, best, sentence) => {
    expect(capacityStatement(steps, best, 'chat users', budget)).toBe(sentence);
  });
});
