/** `trellis bench <scenario>`: how many users this machine (or --target) holds, beside the floor. */
import { FatalError } from '../errors.js';
import {
  currentCommit,
  remoteTarget,
  renderReport,
  runBench,
  scenarios,
  startLocalTarget,
  writeMarkdownSection,
  type HarnessOptions,
  type Target,
} from '../capacity/index.js';
import { parseFlags } from './args.js';

export const benchHelp = `Usage: trellis bench <${Object.keys(scenarios).join('|')}> [options]

Steps the number of virtual users until p99 latency or errors break the budget, prints the
capacity statement ("this machine sustains N concurrent … at p99 < 100 ms"), then runs Trellis and
the scenario's floor (the same database work by minimal code) at full speed, with their ratio.
Without --target it starts Trellis on a temporary project with an embedded PostgreSQL.

  --target URL        measure a running Trellis (one instance or a load balancer) instead
  --jwt-secret S      with --target: its JWT_SECRET (\`trellis status\` prints it), to sign users' tokens
  --db-url URL        with --target: its database, so the floor can run beside it
  --p99 MS            latency budget, default 100
  --max-errors PCT    error budget in percent of attempts, default 1
  --start-users N     first load step, default 10
  --max-users N       ceiling of the search, default 5000
  --step-seconds N    measured seconds per step, default 10 (2 with --quick)
  --quick             short steps and a coarse search (about a minute)
  --json              print the report as one JSON object
  --markdown FILE     also write the report into FILE, between <!-- bench-<scenario>:begin/end -->
  --print-schema      print the SQL the scenario needs (apply it as a migration before --target)`;

const positive = (flag: string, raw: string | boolean | undefined, fallback: number, max = 1_000_000): number => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+(\.\d+)?$/.test(raw) || !(n > 0) || n > max)
    throw new FatalError(`must be a number between 0 and ${max} (got "${String(raw)}")`, `--${flag}`);
  return n;
};

export async function benchCommand(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h') {
    process.stdout.write(`${benchHelp}\n`);
    return 0;
  }
  if (name === undefined || name.startsWith('-'))
    throw new FatalError(`name a scenario first: trellis bench <${Object.keys(scenarios).join('|')}> [options]`);
  const scenario = scenarios[name];
  if (!scenario) throw new FatalError(`unknown scenario "${name}" (scenarios: ${Object.keys(scenarios).join(', ')})`);
  const flags = parseFlags('bench', rest, {
    target: { type: 'string' },
    'jwt-secret': { type: 'string' },
    'db-url': { type: 'string' },
    p99: { type: 'string' },
    'max-errors': { type: 'string' },
    'start-users': { type: 'string' },
    'max-users': { type: 'string' },
    'step-seconds': { type: 'string' },
    quick: { type: 'boolean' },
    json: { type: 'boolean' },
    markdown: { type: 'string' },
    'print-schema': { type: 'boolean' },
  });
  if (flags.help) {
    process.stdout.write(`${benchHelp}\n`);
    return 0;
  }
  if (flags['print-schema']) {
    process.stdout.write(scenario.schema ?? '-- this scenario needs no schema of its own\n');
    return 0;
  }
  const quick = flags.quick === true;
  const stepSeconds = positive('step-seconds', flags['step-seconds'], quick ? 2 : 10, 3600);
  const options: HarnessOptions = {
    budget: {
      p99Ms: positive('p99', flags.p99, 100, 60_000),
      maxErrorRate: positive('max-errors', flags['max-errors'], 1, 100) / 100,
    },
    search: {
      startUsers: Math.round(positive('start-users', flags['start-users'], quick ? 20 : 10)),
      maxUsers: Math.round(positive('max-users', flags['max-users'], 5000)),
      resolution: quick ? 0.25 : 0.1,
      maxSteps: quick ? 6 : 14,
    },
    stepSeconds,
    warmupSeconds: quick ? 1 : 2,
    saturationUsers: 16,
    saturationSeconds: flags['step-seconds'] !== undefined ? stepSeconds : quick ? 4 : 10,
    progress: progressPrinter(),
  };
  const target = await openTarget(flags, scenario.schema, scenario.serverEnv);
  try {
    const report = await runBench(scenario, target, options);
    const markdown = renderReport(report);
    process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : `\n${markdown}\n`);
    if (typeof flags.markdown === 'string') {
      const commit = currentCommit();
      const how = `Measured ${report.date.slice(0, 10)} on ${report.machine}${commit ? `, commit ${commit}` : ''}, by \`trellis bench ${scenario.name}${quick ? ' --quick' : ''}\`.`;
      writeMarkdownSection(flags.markdown, `bench-${scenario.name}`, `${how}\n\n${markdown}`);
    }
  } finally {
    await target.close();
  }
  return 0;
}

async function openTarget(
  flags: Record<string, string | boolean | undefined>,
  schema: string | undefined,
  env: Readonly<Record<string, string>>,
): Promise<Target> {
  const url = flags.target;
  if (typeof url !== 'string') {
    if (flags['jwt-secret'] !== undefined || flags['db-url'] !== undefined)
      throw new FatalError('only with --target', flags['jwt-secret'] !== undefined ? '--jwt-secret' : '--db-url');
    return startLocalTarget({ schema, env: { ...env }, log: (line) => process.stderr.write(`${line}\n`) });
  }
  if (!/^https?:\/\/[^/]+/.test(url))
    throw new FatalError(`must be an http:// or https:// URL (got "${url}")`, '--target');
  const secret = flags['jwt-secret'];
  if (typeof secret !== 'string' || secret.length < 32)
    throw new FatalError(
      "--target needs the server's JWT secret (at least 32 characters; `trellis status` prints it)",
      '--jwt-secret',
    );
  const dbUrl = flags['db-url'];
  if (dbUrl !== undefined && (typeof dbUrl !== 'string' || !/^postgres(ql)?:\/\//.test(dbUrl)))
    throw new FatalError('must be a postgres:// URL', '--db-url');
  return remoteTarget(url, secret, dbUrl);
}

/** On a terminal, one line rewritten in place; otherwise only the line each step ends with. */
function progressPrinter(): HarnessOptions['progress'] {
  const tty = process.stderr.isTTY === true;
  return (line, final) => {
    if (tty) process.stderr.write(`\r\x1b[K${line}${final ? '\n' : ''}`);
    else if (final) process.stderr.write(`${line}\n`);
  };
}
