/**
 * The last `trellis bench` report, kept in the project's data folder so that Studio can show the
 * capacity statement after the command has ended: `<dir>/.trellis/bench-last.json`.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { BenchReport } from './harness.js';

export const LAST_REPORT_FILE = 'bench-last.json';

export interface SavedBenchReport {
  readonly savedAt: string;
  /** The command as run, e.g. `trellis bench crud --quick`. */
  readonly command: string;
  readonly report: BenchReport;
}

export const lastReportPath = (dataDir: string) => path.join(dataDir, LAST_REPORT_FILE);

/** Writes the report whole or not at all (a temporary file renamed over the last one). */
export async function saveLastReport(dataDir: string, command: string, report: BenchReport): Promise<string> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const file = lastReportPath(dataDir);
  const saved: SavedBenchReport = { savedAt: new Date().toISOString(), command, report };
  const temporary = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temporary, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
  await fs.rename(temporary, file);
  return file;
}

/** The saved report; undefined when no bench has saved one, or the file is not one (a message says why). */
export async function readLastReport(dataDir: string): Promise<SavedBenchReport | { problem: string } | undefined> {
  const text = await fs.readFile(lastReportPath(dataDir), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as Partial<SavedBenchReport>;
    if (typeof parsed.savedAt !== 'string' || typeof parsed.report?.statement !== 'string')
      return { problem: `${LAST_REPORT_FILE} is not a saved bench report` };
    return parsed as SavedBenchReport;
  } catch {
    return { problem: `${LAST_REPORT_FILE} is not JSON` };
  }
}
