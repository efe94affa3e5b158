/**
 * Does the Studio dashboard slow the API's start (issue 20)? `trellis start` → first 200 from
 * /ready with STUDIO_ENABLED=true and =false, alternated on the same build, on a fresh folder (the
 * first start also hashes the new dashboard password) and on an existing one; then the first
 * /studio page and its bundle, fetched cold.
 *
 *   npx tsx bench/studio-startup.ts [--runs 5] [--write]   (--write updates docs/benchmarks.md)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../src/platform/net.js';
import { report } from './report.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, write: { type: 'boolean', default: false } },
});
const RUNS = Number(values.runs);
const BIN = path.join(path.resolve(import.meta.dirname, '..'), 'bin', 'trellis.js');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Started {
  ms: number;
  port: number;
  stop(): Promise<void>;
}

async function start(dir: string, studio: boolean): Promise<Started> {
  const port = await freePort();
  const began = performance.now();
  const child = spawn(process.execPath, [BIN, 'start', '--dir', dir, '--port', String(port)], {
    stdio: 'ignore',
    env: { ...process.env, STUDIO_ENABLED: String(studio) },
  });
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (child.exitCode !== null) throw new Error(`trellis start exited ${child.exitCode}`);
    await sleep(5);
  }
  const ms = performance.now() - began;
  return {
    ms,
    port,
    stop: () =>
      new Promise((resolve) => {
        child.on('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function main() {
  const fresh = { on: [] as number[], off: [] as number[] };
  const existing = { on: [] as number[], off: [] as number[] };
  let page = { ms: 0, bytes: 0 };
  for (let i = 0; i < RUNS; i++) {
    // Alternate which goes first, so that a warming machine favours neither.
    for (const studio of i % 2 === 0 ? [true, false] : [false, true]) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-studio-bench-'));
      fs.chmodSync(dir, 0o755);
      fs.mkdirSync(path.join(dir, 'supabase', 'migrations'), { recursive: true });
      const first = await start(dir, studio);
      (studio ? fresh.on : fresh.off).push(first.ms);
      await first.stop();
      const second = await start(dir, studio);
      (studio ? existing.on : existing.off).push(second.ms);
      if (studio && i === RUNS - 1) {
        const began = performance.now();
        const html = await (await fetch(`http://127.0.0.1:${second.port}/studio/`)).text();
        let bytes = html.length;
        for (const [, asset] of html.matchAll(/(?:src|href)="\/studio\/(assets\/[^"]+)"/g))
          bytes += (await (await fetch(`http://127.0.0.1:${second.port}/studio/${asset}`)).arrayBuffer()).byteLength;
        page = { ms: performance.now() - began, bytes };
      }
      await second.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    process.stderr.write(
      `run ${i + 1}/${RUNS}: fresh ${fresh.on.at(-1)?.toFixed(0)}/${fresh.off.at(-1)?.toFixed(0)} ms, existing ${existing.on.at(-1)?.toFixed(0)}/${existing.off.at(-1)?.toFixed(0)} ms (studio on/off)\n`,
    );
  }
  // Runs on a shared machine spread by seconds; the pairs (one of each, back to back) cancel most of it.
  const pairedDelta = (on: number[], off: number[]) => median(on.map((v, i) => v - (off[i] ?? NaN)));
  const row = (what: string, on: number[], off: number[]) =>
    `| ${what} (median of ${RUNS}) | ${median(on).toFixed(0)} ms | ${median(off).toFixed(0)} ms | ${(median(on) / median(off)).toFixed(2)} | ${pairedDelta(on, off) >= 0 ? '+' : ''}${pairedDelta(on, off).toFixed(0)} ms |`;
  const table = [
    '| Measure | STUDIO_ENABLED=true | STUDIO_ENABLED=false (floor) | Ratio | Median of paired differences |',
    '| --- | --- | --- | --- | --- |',
    row('start → /ready, fresh folder', fresh.on, fresh.off),
    row('start → /ready, existing folder', existing.on, existing.off),
    '',
    `The first \`GET /studio/\` after the start, with its script and style sheet: ${page.ms.toFixed(0)} ms, ${(page.bytes / 1024).toFixed(1)} KiB (uncompressed).`,
  ].join('\n');
  report('studio-startup', '`npx tsx bench/studio-startup.ts`', table, values.write === true);
}

await main();
