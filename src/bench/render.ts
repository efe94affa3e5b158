/** The report of `trellis bench` as a Markdown table (what docs/benchmarks.md keeps). Pure. */
import type { BenchReport } from './harness.js';
import type { OpSummary } from './stats.js';

const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(n < 10 ? 1 : 0)} ms` : '–');
const rate = (n: number) => (Number.isFinite(n) ? `${n.toFixed(n < 10 ? 1 : 0)}/s` : '–');

export function renderReport(report: BenchReport): string {
  const lines = [
    `**${report.statement}** (${report.scenario}: ${report.description}; think time ${report.thinkMs} ms; budget p99 < ${report.budget.p99Ms} ms, errors ≤ ${(report.budget.maxErrorRate * 100).toFixed(1)} %).`,
    '',
    '| Users | Throughput | p50 | p95 | p99 | Errors | Server CPU | Server RSS | Within budget |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...report.steps.map(
      (s) =>
        `| ${s.users} | ${rate(s.perSecond)} | ${ms(s.p50)} | ${ms(s.p95)} | ${ms(s.p99)} | ${s.errors} | ${s.serverCpuPercent === undefined ? '–' : `${s.serverCpuPercent.toFixed(0)} %`} | ${s.serverRssMb === undefined ? '–' : `${s.serverRssMb.toFixed(0)} MB`} | ${s.holds ? 'yes' : 'no'} |`,
    ),
  ];
  if (report.atCapacity.length) {
    lines.push('', `At ${report.capacity} users, per operation:`, '', ...operationTable(report.atCapacity));
  }
  const { saturation } = report;
  lines.push('', `At full speed (${saturation.users} users, no think time), beside the floor (${saturation.floorDescription}):`, '');
  lines.push('| Operation | Trellis | p99 | Floor | p99 | Ratio |', '| --- | --- | --- | --- | --- | --- |');
  const floorOps = new Map((saturation.floor?.operations ?? []).map((o) => [o.op, o]));
  for (const op of [saturation.trellis.overall, ...saturation.trellis.operations]) {
    const f = op.op === 'all' ? saturation.floor?.overall : floorOps.get(op.op);
    const name = op.op === 'all' ? '**all**' : op.op;
    const ratio = f ? (op.perSecond / f.perSecond).toFixed(2) : '–';
    lines.push(`| ${name} | ${rate(op.perSecond)} | ${ms(op.p99)} | ${f ? rate(f.perSecond) : 'not run'} | ${f ? ms(f.p99) : '–'} | ${op.op === 'all' ? `**${ratio}**` : ratio} |`);
  }
  return lines.join('\n');
}

function operationTable(ops: readonly OpSummary[]): string[] {
  return [
    '| Operation | Throughput | p50 | p95 | p99 | Errors |',
    '| --- | --- | --- | --- | --- | --- |',
    ...ops.map((o) => `| ${o.op} | ${rate(o.perSecond)} | ${ms(o.p50)} | ${ms(o.p95)} | ${ms(o.p99)} | ${o.errors} |`),
  ];
}
