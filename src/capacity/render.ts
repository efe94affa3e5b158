/** The report of `trellis bench` as a Markdown table (what docs/benchmarks.md keeps). Pure. */
import type { BenchReport, RunSummary } from './harness.js';
import type { OpSummary } from './stats.js';
import type { GeneratorLoad } from './stepping.js';

const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(n < 10 ? 1 : 0)} ms` : '–');
const percent = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '–' : `${n.toFixed(0)} %`);
const generatorCell = (loads: readonly GeneratorLoad[]) =>
  loads.map((g) => `${ms(g.lagP99Ms)}, ${percent(g.cpuPercent)}`).join(' · ') || '–';
const rate = (n: number) => (Number.isFinite(n) ? `${n.toFixed(n < 10 ? 1 : 0)}/s` : '–');

export function renderReport(report: BenchReport): string {
  const lines = [
    `**${report.statement}** (${report.scenario}: ${report.description}; think time ${report.thinkMs} ms; budget p99 < ${report.budget.p99Ms} ms, errors ≤ ${(report.budget.maxErrorRate * 100).toFixed(1)} %).`,
    '',
    ...activeUsersLines(report),
    '',
    `${report.generators} load generators (child processes) drove the users; a step where one's event-loop lag p99 passed ${report.generatorLimits.lagP99Ms} ms or its CPU ${report.generatorLimits.cpuPercent} % of a core is generator-limited and counts neither way. Longer steps confirm the boundary the search found${report.capacity === report.searchCapacity ? '' : ` (the search alone said ${report.searchCapacity})`}.`,
    '',
    '| Users | Step | Throughput | p50 | p95 | p99 | Errors | Node.js CPU | PostgreSQL CPU | Server RSS | Generators (lag p99, CPU) | Within budget |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...report.steps.map(
      (s) =>
        `| ${s.users} | ${s.phase} ${s.seconds} s | ${rate(s.perSecond)} | ${ms(s.p50)} | ${ms(s.p95)} | ${ms(s.p99)} | ${s.errors} | ${percent(s.serverCpuPercent)} | ${percent(s.databaseCpuPercent)} | ${s.serverRssMb === undefined ? '–' : `${s.serverRssMb.toFixed(0)} MB`} | ${generatorCell(s.generators)} | ${s.generatorLimited ? 'generator-limited' : s.holds ? 'yes' : 'no'} |`,
    ),
  ];
  if (report.atCapacity.length) {
    lines.push('', `At ${report.capacity} users, per operation:`, '', ...operationTable(report.atCapacity));
  }
  const { saturation } = report;
  const peer = saturation.peer;
  lines.push(
    '',
    `At full speed (${saturation.users} users, no think time), beside the floor (${saturation.floorDescription})${peer ? ` and the peer (${saturation.peerDescription ?? 'peer'})` : ''}:`,
    '',
  );
  lines.push(
    `| Operation | Trellis | p99 | Floor | p99 | Ratio |${peer ? ' Peer | p99 | Trellis ÷ peer |' : ''}`,
    `| --- | --- | --- | --- | --- | --- |${peer ? ' --- | --- | --- |' : ''}`,
  );
  const byOp = (run: RunSummary | undefined) => new Map((run?.operations ?? []).map((o) => [o.op, o]));
  const floorOps = byOp(saturation.floor);
  const peerOps = byOp(peer);
  const cells = (op: OpSummary, other: OpSummary | undefined, bold: boolean) => {
    const ratio = other ? (op.perSecond / other.perSecond).toFixed(2) : '–';
    return `${other ? rate(other.perSecond) : 'not run'} | ${other ? ms(other.p99) : '–'} | ${bold ? `**${ratio}**` : ratio} |`;
  };
  for (const op of [saturation.trellis.overall, ...saturation.trellis.operations]) {
    const all = op.op === 'all';
    const f = all ? saturation.floor?.overall : floorOps.get(op.op);
    const p = all ? peer?.overall : peerOps.get(op.op);
    lines.push(
      `| ${all ? '**all**' : op.op} | ${rate(op.perSecond)} | ${ms(op.p99)} | ${cells(op, f, all)}${peer ? ` ${cells(op, p, all)}` : ''}`,
    );
  }
  const cpuLine = (name: string, run: RunSummary | undefined) => {
    if (!run || (run.serverCpuPercent === undefined && run.databaseCpuPercent === undefined)) return [];
    const total = (run.serverCpuPercent ?? 0) + (run.databaseCpuPercent ?? 0);
    const perCall =
      run.callsPerSecond > 0 ? ` = ${((total / 100 / run.callsPerSecond) * 1000).toFixed(2)} ms of CPU per call` : '';
    return [
      `| ${name} | ${percent(run.serverCpuPercent)} | ${percent(run.databaseCpuPercent)} | ${rate(run.callsPerSecond)}${perCall} |`,
    ];
  };
  const cpuRows = [
    ...cpuLine('Trellis', saturation.trellis),
    ...cpuLine('floor', saturation.floor),
    ...cpuLine('peer', peer),
  ];
  if (cpuRows.length)
    lines.push(
      '',
      "CPU at full speed (100 % = one core; the server is the Trellis process or the floor's):",
      '',
      '| Run | Server (Node.js) | PostgreSQL | Calls |',
      '| --- | --- | --- | --- |',
      ...cpuRows,
    );
  const limited = (
    [
      ['Trellis', saturation.trellis],
      ['floor', saturation.floor],
      ['peer', peer],
    ] as const
  ).flatMap(([name, run]) => (run?.generatorLimit ? [`${name}: ${run.generatorLimit}`] : []));
  if (limited.length)
    lines.push(
      '',
      `At full speed the load generators could not keep up, so these throughputs are lower bounds (${limited.join('; ')}).`,
    );
  return lines.join('\n');
}

function operationTable(ops: readonly OpSummary[]): string[] {
  return [
    '| Operation | Throughput | p50 | p95 | p99 | Errors |',
    '| --- | --- | --- | --- | --- | --- |',
    ...ops.map((o) => `| ${o.op} | ${rate(o.perSecond)} | ${ms(o.p50)} | ${ms(o.p95)} | ${ms(o.p99)} | ${o.errors} |`),
    ...ops.flatMap((o) => (o.firstError ? ['', `First ${o.op} error: ${o.firstError.replaceAll('|', '\\|')}`] : [])),
  ];
}

/** The capacity in the seeds' terms, with the arithmetic that gives it. */
function activeUsersLines(report: BenchReport): string[] {
  const { statement, arithmetic } = report.activeUsers;
  const [head, rest] = [statement.slice(0, statement.indexOf(': ') + 1), statement.slice(statement.indexOf(': ') + 2)];
  return [`${head[0]?.toUpperCase() ?? ''}${head.slice(1)} **${rest}**:`, '', ...arithmetic.map((line) => `- ${line}`)];
}
