/**
 * The pure parts of the dashboard, without DOM or Preact (tested by table in test/studio/web-derive.test.ts):
 * a cell's text, the order DataTable sorts by, and the p95 of the requests between two polls.
 */

/** A cell's text: JSON for objects, NULL for null. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

/** DataTable's order: numbers as numbers, text with its digits as numbers ("row 2" before "row 10"), NULL last. */
export function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return cellText(a).localeCompare(cellText(b), undefined, { numeric: true });
}

/** A histogram's cumulative buckets (`le` null: +Inf), as GET /studio/api/metrics answers them. */
export type Buckets = readonly { le: number | null; count: number }[];

/** The p95 of the requests between two polls (the bound of the bucket its rank falls under), in ms; 0 without requests. */
export function windowP95(before: Buckets, now: Buckets): number {
  const deltas = now.map((b, i) => ({ le: b.le, count: b.count - (before[i]?.count ?? 0) }));
  const total = deltas.at(-1)?.count ?? 0;
  if (total <= 0) return 0;
  const hit = deltas.find((d) => d.count >= total * 0.95);
  const bound = hit?.le ?? deltas.at(-2)?.le ?? 0;
  return bound * 1000;
}
