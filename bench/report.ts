/** Prints a benchmark's table with the date, machine and commit, and (with --write) puts it in docs/benchmarks.md. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');

/** `name` marks the section (`<!-- name:begin -->` … `<!-- name:end -->`); `how` says how it was run. */
export function report(name: string, how: string, table: string, write: boolean): void {
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
  const section = `<!-- ${name}:begin -->\nMeasured ${new Date().toISOString().slice(0, 10)} on ${machine}, commit ${commit}, by ${how}.\n\n${table}\n<!-- ${name}:end -->`;
  console.log(section);
  if (!write) return;
  const file = path.join(ROOT, 'docs', 'benchmarks.md');
  const marked = new RegExp(`<!-- ${name}:begin -->[\\s\\S]*<!-- ${name}:end -->`);
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(marked, section));
}
