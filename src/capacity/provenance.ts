/**
 * Where a measurement comes from, and where it goes: the machine and commit a report names, and
 * the marked section of a Markdown file (docs/benchmarks.md) it replaces. Shared by `trellis bench`
 * and the scripts in bench/.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

export function machineDescription(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
}

/** The short commit of the git checkout at `cwd`, or undefined outside one. */
export function currentCommit(cwd?: string): string | undefined {
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' });
  return git.status === 0 ? git.stdout.trim() : undefined;
}

/** Replaces `<!-- name:begin -->` … `<!-- name:end -->` in `file` with `body` (appended when absent). */
export function writeMarkdownSection(file: string, name: string, body: string): void {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const section = `<!-- ${name}:begin -->\n${body}\n<!-- ${name}:end -->`;
  const marked = new RegExp(`<!-- ${name}:begin -->[\\s\\S]*<!-- ${name}:end -->`);
  fs.writeFileSync(file, marked.test(text) ? text.replace(marked, () => section) : `${text.trimEnd()}\n\n${section}\n`);
}
