import { describe, expect, test } from 'vitest';
import { describeRate, parseRate } from '../../src/config/rate-limit.js';

describe('parseRate', () => {
  test.each([
    ['100/1m', { points: 100, windowS: 60 }],
    ['100/m', { points: 100, windowS: 60 }],
    ['20/30s', { points: 20, windowS: 30 }],
    ['5000/1h', { points: 5000, windowS: 3600 }],
    ['1/24h', { points: 1, windowS: 86_400 }],
    [' 100 / 1M ', { points: 100, windowS: 60 }],
    ['off', undefined],
    ['OFF', undefined],
    ['', undefined],
  ])('accepts %j', (text, value) => expect(parseRate(text)).toEqual({ ok: true, value }));

  test.each([
    ['100', 'must be COUNT/WINDOW'],
    ['100/1', 'must be COUNT/WINDOW'],
    ['100/1d', 'must be COUNT/WINDOW'],
    ['100/1ms', 'must be COUNT/WINDOW'],
    ['-1/1m', 'must be COUNT/WINDOW'],
    ['1.5/1m', 'must be COUNT/WINDOW'],
    ['abc', 'must be COUNT/WINDOW'],
    ['100/1m; drop table x', 'must be COUNT/WINDOW'],
    ['0/1m', 'the count must be between 1 and'],
    ['99999999999/1m', 'must be COUNT/WINDOW'],
    ['2000000000/1m', 'the count must be between 1 and'],
    ['10/0s', 'the window must be between 1s and 24h'],
    ['10/25h', 'the window must be between 1s and 24h'],
    ['10/99999m', 'the window must be between 1s and 24h'],
  ])('refuses %j', (text, problem) => {
    const parsed = parseRate(text);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.problem).toContain(problem);
  });

  test.each([
    [{ points: 100, windowS: 60 }, '100 per 1m'],
    [{ points: 5, windowS: 7200 }, '5 per 2h'],
    [{ points: 5, windowS: 90 }, '5 per 90s'],
  ])('describes %j as %s', (spec, text) => expect(describeRate(spec)).toBe(text));
});
