/**
 * `Content-Range` for writes and function calls, as PostgREST writes it. postgrest-js reads the
 * count from the part after the slash (`parseInt`), so a `*` there is the `NaN` a client sees when
 * the total is missing. Pure.
 */

/**
 * `lower-upper/total`: the range is `*` when the total is 0 or the range is empty (lower > upper),
 * the total is `*` when it was not counted.
 */
export function contentRange(lower: number, upper: number, total: number | undefined): string {
  const range = total !== 0 && lower <= upper ? `${lower}-${upper}` : '*';
  return `${range}/${total ?? '*'}`;
}

/**
 * PATCH names the rows it changed (`0-2/3`), DELETE only their number (a `*` range); either
 * counts them only when asked (`Prefer: count=exact` or `estimated`: the affected rows are the total).
 */
export function writeContentRange(action: 'update' | 'delete', affected: number, counted: boolean): string {
  const total = counted ? affected : undefined;
  return action === 'update' ? contentRange(0, affected - 1, total) : contentRange(1, 0, total);
}

/** Which counts give a total: `planned` alone is never counted on writes and calls (as PostgREST). */
export function countsTotal(count: 'exact' | 'planned' | 'estimated' | undefined): boolean {
  return count === 'exact' || count === 'estimated';
}

/**
 * A call's page (`offset` on, `page` rows) against the counted total: 206 when the page holds fewer
 * rows than the total, 200 otherwise (and when uncounted).
 */
export function callRange(
  offset: number,
  page: number,
  total: number | undefined,
): { readonly header: string; readonly status: 200 | 206 } {
  const upper = offset + page - 1;
  const partial = total !== undefined && offset <= total && 1 + upper - offset < total;
  return { header: contentRange(offset, upper, total), status: partial ? 206 : 200 };
}
