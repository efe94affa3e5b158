import { describe, expect, test } from 'vitest';
import {
  SEED_ASSUMPTIONS,
  activeUsers,
  assumptionsProblem,
  roughly,
  type UsageAssumptions,
} from '../../src/capacity/active-users.js';

const seeds = SEED_ASSUMPTIONS;

describe('capacity in daily and monthly active users', () => {
  test.each<[string, number, number, UsageAssumptions, { concurrent: number; daily: number; monthly: number }]>([
    // 615 calls/s ÷ (20 calls / 600 s) = 18,450 in session; 3 × 10 × 3 / 1440 = 6.25 % of DAU.
    ['the seeds’ defaults', 640, 615, seeds, { concurrent: 18_450, daily: 295_200, monthly: 1_180_800 }],
    // Seed 004's own day: 5,000 DAU × 3 sessions × 20 calls = 300,000 calls a day, 3.47/s on average;
    // at a peak of 3 × average that is 10.4/s, which these assumptions must turn back into 5,000.
    ['seed 004 read backwards', 10, (300_000 / 86_400) * 3, seeds, { concurrent: 312, daily: 4_992, monthly: 19_968 }],
    [
      'a chat app like seed 003 (150 calls a day in 3 sessions), heavier',
      100,
      100,
      { ...seeds, callsPerSession: 50 },
      { concurrent: 1_200, daily: 19_200, monthly: 76_800 },
    ],
    [
      'one long session a day, flat traffic, everyone daily',
      50,
      60,
      { sessionsPerDay: 1, sessionMinutes: 60, callsPerSession: 60, peakFactor: 1, dauPerMau: 1 },
      { concurrent: 3_600, daily: 86_400, monthly: 86_400 },
    ],
    ['a ratio not exact in binary', 1, 1, { ...seeds, dauPerMau: 0.3 }, { concurrent: 30, daily: 480, monthly: 1_600 }],
    ['nothing held', 0, 0, seeds, { concurrent: 0, daily: 0, monthly: 0 }],
  ])('%s', (_name, virtualUsers, callsPerSecond, assumptions, expected) => {
    const result = activeUsers({ virtualUsers, callsPerSecond, atLeast: false }, assumptions);
    expect({ concurrent: result.concurrent, daily: result.daily, monthly: result.monthly }).toEqual(expected);
  });

  test('the statement rounds down to two figures and says "at least" when the search hit its ceiling', () => {
    const result = activeUsers({ virtualUsers: 640, callsPerSecond: 615, atLeast: true });
    expect(result.statement).toBe(
      "in the seeds' terms: at least 18,000 users in session at the busiest hour, 290,000 daily and 1,100,000 monthly active users",
    );
    expect(activeUsers({ virtualUsers: 0, callsPerSecond: 0, atLeast: false }).statement).toBe(
      "in the seeds' terms: no load held, so no users",
    );
  });

  test('the arithmetic names every assumption and its source, and the connections it did not hold', () => {
    const result = activeUsers(
      { virtualUsers: 640, callsPerSecond: 615, atLeast: false },
      { ...seeds, peakFactor: 2 },
      ['peakFactor'],
    );
    expect(result.arithmetic).toEqual([
      '640 virtual users made 615 calls/s within budget (one call every 1.0 s each)',
      "a user in session makes 20 calls (seed 004) in 10 min (Trellis's assumption, no seed says): 0.033 calls/s",
      '615 ÷ 0.033 = 18,450 users in session at the busiest hour',
      "3 sessions a day (seed 004) × 10 min ÷ 1440 min × peak factor 2 (given) = 4.17 % of the day's users in session then",
      '18,450 ÷ 4.17 % = 442,800 daily active users',
      '442,800 ÷ DAU/MAU 0.25 (seed 004: 5,000 DAU of 20,000 MAU) = 1,771,200 monthly active users',
      'the run held 640 clients at once, not 18,450: the conversion assumes the calls, not idle connections, are the cost',
    ]);
    expect(result.overridden).toEqual(['peakFactor']);
  });

  test.each([
    [0.5, 1, 'at least 1 (got 0.5)'],
    [1, 1.5, 'DAU/MAU at most 1 (got 1.5)'],
  ])('peak factor %s, DAU/MAU %s: refused', (peakFactor, dauPerMau, message) => {
    expect(assumptionsProblem({ ...seeds, peakFactor, dauPerMau })).toContain(message);
  });

  test('sessions that add up to more than a day, or more than everyone at the peak, are refused', () => {
    expect(assumptionsProblem({ ...seeds, sessionsPerDay: 30, sessionMinutes: 60 })).toBe(
      '30 sessions a day of 60 minutes is 1800 minutes, more than a day',
    );
    expect(assumptionsProblem({ ...seeds, sessionsPerDay: 10, sessionMinutes: 60, peakFactor: 3 })).toMatch(
      /puts more than every daily user in session at the peak/,
    );
    expect(assumptionsProblem(seeds)).toBeUndefined();
  });

  test.each([
    [0, '0'],
    [7.9, '7'],
    [18_450, '18,000'],
    [295_200, '290,000'],
    [99, '99'],
    [1_180_800, '1,100,000'],
  ])('roughly(%s) = %s', (n, text) => expect(roughly(n)).toBe(text));
});
