/**
 * `npm run bench`: a quick run of every benchmark, rewriting its table in docs/benchmarks.md (with
 * date, machine and commit). Under five minutes on two cores; run it on a quiet machine.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './server.js';

const docs = path.join(ROOT, 'docs', 'benchmarks.md');
const tsx = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const runs: [string, string[]][] = [
  ['start-up and idle memory', [tsx, 'bench/startup.ts', '--runs', '2', '--write']],
  ['Studio and start-up', [tsx, 'bench/studio-startup.ts', '--runs', '3', '--write']],
  ['data API', [tsx, 'bench/rest.ts', '--seconds', '1', '--rounds', '2', '--write']],
  ['auth', [tsx, 'bench/auth.ts', '--seconds', '3', '--write']],
  ['workers', [tsx, 'bench/workers.ts', '--seconds', '2', '--rounds', '1', '--write']],
  ['password sign-in timing', [tsx, 'bench/auth-signin.ts', '--write']],
  ['session check', [tsx, 'bench/session-check.ts', '--seconds', '1', '--rounds', '2', '--write']],
  ['storage', [tsx, 'bench/storage.ts', '--rounds', '1', '--write']],
  [
    'realtime fan-out and idle sockets',
    [
      tsx,
      'bench/realtime.ts',
      '--seconds',
      '1',
      '--rounds',
      '2',
      '--from-rate',
      '4',
      '--idle',
      '1000',
      '--no-cluster',
      '--write',
    ],
  ],
  ['postgres_changes under RLS', [tsx, 'bench/realtime-changes.ts', '--inserts', '15', '--write']],
  ['database webhooks', [tsx, 'bench/webhooks.ts', '--rows', '1000', '--rounds', '2', '--write']],
  ['queues', [tsx, 'bench/queues.ts', '--jobs', '1000', '--rounds', '1', '--write']],
  ['web push', [tsx, 'bench/push.ts', '--rounds', '2', '--write']],
  ['edge functions', [tsx, 'bench/functions.ts', '--seconds', '3', '--write']],
  ['capacity: chat', ['bin/trellis.js', 'bench', 'chat', '--quick', '--max-users', '640', '--markdown', docs]],
  ['capacity: crud', ['bin/trellis.js', 'bench', 'crud', '--quick', '--markdown', docs]],
  ['capacity: auth', ['bin/trellis.js', 'bench', 'auth', '--quick', '--max-users', '80', '--markdown', docs]],
];

const started = Date.now();
let failed = 0;
for (const [name, args] of runs) {
  process.stderr.write(`\n== ${name} (${((Date.now() - started) / 1000).toFixed(0)} s so far)\n`);
  const run = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit' });
  if (run.status !== 0) {
    failed++;
    process.stderr.write(`${name} failed (exit ${run.status})\n`);
  }
}
process.stderr.write(
  `\nall benchmarks done in ${((Date.now() - started) / 1000).toFixed(0)} s${failed ? `, ${failed} failed` : ''}\n`,
);
process.exit(failed ? 1 : 0);
