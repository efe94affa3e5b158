/** The verification table a move prints: one line per table, both sides' rows and checksums. */
import type { DigestDifference, TableDigest } from '../db/index.js';

export function describeDigests(
  source: readonly TableDigest[],
  target: readonly TableDigest[],
  differences: readonly DigestDifference[],
): string {
  const targetOf = new Map(target.map((d) => [`${d.schema}.${d.table}`, d]));
  const bad = new Set(differences.map((d) => d.table));
  const rows = source.map((s) => {
    const name = `${s.schema}.${s.table}`;
    const t = targetOf.get(name);
    return [
      name,
      String(s.rows),
      t ? String(t.rows) : '-',
      s.checksum,
      t?.checksum ?? '-',
      bad.has(name) ? 'DIFFERS' : 'ok',
    ];
  });
  for (const d of differences)
    if (!d.left && d.right) rows.push([d.table, '-', String(d.right.rows), '-', d.right.checksum, 'DIFFERS']);
  const header = ['table', 'source rows', 'target rows', 'source checksum', 'target checksum', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i >= 1 && i <= 4 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
