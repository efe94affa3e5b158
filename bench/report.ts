/** Prints a benchmark's table with the date, machine and commit, and (with --write) puts it in docs/benchmarks.md. */
import path from 'node:path';
import { currentCommit, machineDescription, writeMarkdownSection } from '../src/capacity/index.js';

const ROOT = path.resolve(import.meta.dirname, '..');

/** `name` marks the section (`<!-- name:begin -->` … `<!-- name:end -->`); `how` says how it was run. */
export function report(name: string, how: string, table: string, write: boolean): void {
  const body = `Measured ${new Date().toISOString().slice(0, 10)} on ${machineDescription()}, commit ${currentCommit(ROOT) ?? 'unknown'}, by ${how}.\n\n${table}`;
  console.log(`<!-- ${name}:begin -->\n${body}\n<!-- ${name}:end -->`);
  if (write) writeMarkdownSection(path.join(ROOT, 'docs', 'benchmarks.md'), name, body);
}
