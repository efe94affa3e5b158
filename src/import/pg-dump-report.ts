/** What an import of a Supabase dump did (or, with --dry-run, would do), and its printed form. */

export interface KindCount {
  run: number;
  skipped: number;
  mapped: number;
}

export interface SkipGroup {
  readonly reason: string;
  /** Statements per kind skipped for this reason. */
  readonly kinds: Record<string, number>;
  /** Dump line of the first one. */
  readonly firstLine: number;
  count: number;
}

export interface TableLoad {
  readonly table: string;
  rows: number;
  /** loaded: the dump's own table; mapped: into Trellis's table of that name; skipped: read past. */
  readonly action: 'loaded' | 'mapped' | 'skipped';
  note?: string;
  /** Source columns Trellis's table does not have (mapped tables). */
  droppedColumns?: string[];
}

export interface StorageCopy {
  objects: number;
  files: number;
  bytes: number;
  /** bucket/name of objects whose file was not found (their rows are not imported). */
  readonly missing: string[];
}

export interface PgDumpReport {
  readonly file: string;
  readonly dryRun: boolean;
  statements: number;
  readonly kinds: Record<string, KindCount>;
  readonly skipped: SkipGroup[];
  readonly tables: TableLoad[];
  readonly storage: StorageCopy;
  readonly warnings: string[];
}

export function emptyReport(file: string, dryRun: boolean): PgDumpReport {
  return {
    file,
    dryRun,
    statements: 0,
    kinds: {},
    skipped: [],
    tables: [],
    storage: { objects: 0, files: 0, bytes: 0, missing: [] },
    warnings: [],
  };
}

export function count(report: PgDumpReport, kind: string, what: keyof KindCount): void {
  const k = (report.kinds[kind] ??= { run: 0, skipped: 0, mapped: 0 });
  k[what]++;
}

export function recordSkip(report: PgDumpReport, kind: string, reason: string, line: number): void {
  let group = report.skipped.find((g) => g.reason === reason);
  if (!group) {
    group = { reason, kinds: {}, firstLine: line, count: 0 };
    report.skipped.push(group);
  }
  group.count++;
  group.kinds[kind] = (group.kinds[kind] ?? 0) + 1;
}

const n = (x: number) => x.toLocaleString('en-US');

/** The report as lines for a terminal: the plan with --dry-run, the account of the run otherwise. */
export function renderPgDumpReport(report: PgDumpReport): string {
  const out: string[] = [];
  out.push(`${report.dryRun ? 'Plan for' : 'Imported'} ${report.file}: ${n(report.statements)} statements`);
  out.push('  statements by kind (run / skipped / mapped):');
  for (const [kind, c] of Object.entries(report.kinds).sort(([a], [b]) => a.localeCompare(b)))
    out.push(`    ${kind.padEnd(28)} ${n(c.run)} / ${n(c.skipped)} / ${n(c.mapped)}`);
  if (report.skipped.length > 0) {
    out.push('  skipped:');
    for (const g of report.skipped) {
      const kinds = Object.entries(g.kinds)
        .map(([k, c]) => `${c} ${k}`)
        .join(', ');
      out.push(`    ${g.reason} — ${kinds} (first at line ${g.firstLine})`);
    }
  }
  if (report.tables.length > 0) {
    out.push(`  table data (${report.dryRun ? 'rows in the dump' : 'rows'}):`);
    for (const t of report.tables) {
      const dropped = t.droppedColumns?.length ? `; columns dropped: ${t.droppedColumns.join(', ')}` : '';
      out.push(
        `    ${t.table.padEnd(36)} ${n(t.rows).padStart(10)}  ${t.action}${t.note ? ` (${t.note})` : ''}${dropped}`,
      );
    }
  }
  const s = report.storage;
  if (s.objects > 0 || s.missing.length > 0) {
    out.push(
      `  storage: ${n(s.files)} of ${n(s.objects)} object files ${report.dryRun ? 'found' : `copied (${n(s.bytes)} bytes)`}`,
    );
    if (s.missing.length > 0) {
      const shown = s.missing.slice(0, 10).join(', ');
      out.push(
        `    ${n(s.missing.length)} without a file, their rows not imported: ${shown}${s.missing.length > 10 ? ', …' : ''}`,
      );
    }
  }
  for (const w of report.warnings) out.push(`  warning: ${w}`);
  return `${out.join('\n')}\n`;
}
