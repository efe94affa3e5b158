/** The pure part of the admin API: ban_duration, which GoTrue writes as a Go duration. */
import { describe, expect, test } from 'vitest';
import { parseBanDuration } from '../../src/auth/admin.js';
import { refusal } from './helpers.js';

describe('parseBanDuration', () => {
  test.each([
    ['none', null],
    ['24h', 86_400_000],
    ['30m', 1_800_000],
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['1h2m3s', 3_723_000],
    ['0s', 0],
    ['876000h', 3_153_600_000_000],
  ])('%j is %j milliseconds', (value, ms) => {
    expect(parseBanDuration(value)).toBe(ms);
  });

  test.each([
    [''],
    ['NONE'],
    ['24H'],
    ['24'],
    ['h'],
    ['1d'],
    ['-1h'],
    ['1.5h'],
    ['300ms'],
    ['30m1h'],
    [' 24h'],
    ['24h '],
  ])('%j is refused with a hint', (value) => {
    expect(refusal(() => parseBanDuration(value))).toEqual({
      status: 400,
      code: 'validation_failed',
      message: `ban_duration "${value}" is not a duration like 24h, 30m or none`,
    });
  });
});
