/**
 * The data API's rate-limit values (`RATE_LIMIT_REST=100/1m`): a count of requests per window,
 * or `off`. Pure, so every accepted and refused spelling is pinned down by a table.
 */

export interface RateSpec {
  /** Requests (or realtime messages) allowed per window. */
  readonly points: number;
  readonly windowS: number;
}

export type RateParse =
  { readonly ok: true; readonly value: RateSpec | undefined } | { readonly ok: false; readonly problem: string };

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600 };
const MAX_POINTS = 1_000_000_000;
// A day: a longer window is a quota, which counters that expire with the window are not meant for.
const MAX_WINDOW_S = 86_400;
const SHAPE = /^(\d{1,10})\/(\d{1,6})?(s|m|h)$/;
const USAGE = 'must be COUNT/WINDOW such as 100/1m (window in s, m or h), or off';

/** `100/1m`, `20/30s`, `5000/1h`, `100/m` (one minute); `off` or empty: no limit. */
export function parseRate(text: string): RateParse {
  const s = text.trim().toLowerCase().replace(/\s+/g, '');
  if (s === '' || s === 'off') return { ok: true, value: undefined };
  const match = SHAPE.exec(s);
  if (!match) return { ok: false, problem: USAGE };
  const points = Number(match[1]);
  const windowS = Number(match[2] ?? '1') * (UNIT_SECONDS[match[3] ?? 's'] ?? 1);
  if (points < 1 || points > MAX_POINTS)
    return { ok: false, problem: `the count must be between 1 and ${MAX_POINTS} (write off for no limit)` };
  if (windowS < 1 || windowS > MAX_WINDOW_S) return { ok: false, problem: `the window must be between 1s and 24h` };
  return { ok: true, value: Object.freeze({ points, windowS }) };
}

/** How a message names a spec: `100 per 1m`. */
export function describeRate(spec: RateSpec): string {
  const { windowS } = spec;
  const window = windowS % 3600 === 0 ? `${windowS / 3600}h` : windowS % 60 === 0 ? `${windowS / 60}m` : `${windowS}s`;
  return `${spec.points} per ${window}`;
}
