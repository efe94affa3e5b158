/** The UTC day and calendar month a moment falls in: the windows provider quotas are counted in. Pure. */

export interface QuotaWindows {
  readonly day: Date;
  readonly nextDay: Date;
  readonly month: Date;
  readonly nextMonth: Date;
}

export function quotaWindows(now: Date): QuotaWindows {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  return {
    day: new Date(Date.UTC(y, m, d)),
    nextDay: new Date(Date.UTC(y, m, d + 1)),
    month: new Date(Date.UTC(y, m, 1)),
    nextMonth: new Date(Date.UTC(y, m + 1, 1)),
  };
}

/** How long a provider that failed `failures` times in a row is skipped: 30 s, doubling, at most 10 min. */
export function unhealthyFor(failures: number, baseMs = 30_000, maxMs = 600_000): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(20, failures - 1)));
}
