/** `trellis bench <scenario>`: how many users this machine (or --target) holds, beside the floor. */
import os from 'node:os';
import { errorMessage, FatalError } from '../errors.js';
import { benchTargetEnv, loadConfig } from '../config.js';
import {
  GENERATOR_LIMITS,
  SEED_ASSUMPTIONS,
  assumptionsProblem,
  currentCommit,
  remoteTarget,
  renderReport,
  runBench,
  saveLastReport,
  scenarios,
  startLocalTarget,
  writeMarkdownSection,
  type HarnessOptions,
  type Scenario,
  type Target,
  type UsageAssumptions,
} from '../capacity/index.js';
import { parseFlags } from './args.js';

/** A generator per core, at least two: each has its own event loop, the harness none of the load. */
const DEFAULT_GENERATORS = Math.max(2, os.availableParallelism());

export const benchHelp = `Usage: trellis bench <${Object.keys(scenarios).join('|')}> [options]

Steps the number of virtual users until p99 latency or errors break the budget, prints the
capacity statement ("this machine sustains N concurrent … at p99 < 100 ms"), then runs Trellis and
the scenario's floor (the same database work by minimal code) at full speed, with their ratio.
Without --target it starts Trellis on a temporary project with an embedded PostgreSQL.

  --target URL[,URL…] measure running Trellis instances instead: one, or several (users are
                      spread over them in turn), or a load balancer (with --instances)
  --instances N       with one --target URL: how many instances serve behind it
  --jwt-secret S      with --target: its JWT_SECRET (\`trellis status\` prints it), to sign users' tokens
  --anon-key K        with --target: its anon key (else signed with the JWT secret)
  --service-role-key K  with --target: its service_role key (else signed with the JWT secret)
  --db-url URL        with --target: its database, so the floor can run beside it
                      (or the environment: JWT_SECRET, ANON_KEY, SERVICE_ROLE_KEY, DB_URL)
  --p99 MS            latency budget, default 100
  --max-errors PCT    error budget in percent of attempts, default 1
  --start-users N     first load step, default 10 (40 with --quick)
  --max-users N       ceiling of the search, default 5000
  --step-seconds N    measured seconds per step, default 10 (2 with --quick)
  --confirm-steps N   longer steps repeating the boundary the search found, default 4 (2 with
                      --quick); 0 reports the search's figure unconfirmed
  --confirm-seconds N measured seconds of a confirming step, default 3 steps' (1.5 with --quick)
  --generators N      load generator processes the virtual users are spread over, default
                      ${DEFAULT_GENERATORS} (this machine's cores, at least 2)
  --quick             short steps and a coarse search (about a minute)
  --sessions-per-day N   daily active users' sessions a day, default ${SEED_ASSUMPTIONS.sessionsPerDay} (seed 004)
  --session-minutes N    a session's length, default ${SEED_ASSUMPTIONS.sessionMinutes}
  --calls-per-session N  API calls a session makes, default ${SEED_ASSUMPTIONS.callsPerSession} (seed 004)
  --peak-factor N        the busiest hour over an average hour, default ${SEED_ASSUMPTIONS.peakFactor}
  --dau-mau R            daily over monthly active users, default ${SEED_ASSUMPTIONS.dauPerMau} (seed 004)
  -o json, --json     print the report as one JSON object
  --markdown FILE     also write the report into FILE, between <!-- bench-<scenario>:begin/end -->
  --dir D             the project folder whose .trellis/bench-last.json keeps the last report, which
                      Studio shows (default: the current folder)
  --print-schema      print the SQL the scenario needs (apply it as a migration before --target)`;

const positive = (flag: string, raw: string | boolean | undefined, fallback: number, max = 1_000_000): number => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+(\.\d+)?$/.test(raw) || !(n > 0) || n > max)
    throw new FatalError(`must be a number between 0 and ${max} (got "${String(raw)}")`, `--${flag}`);
  return n;
};

const whole = (flag: string, raw: string | boolean | undefined, fallback: number, max: number): number => {
  const n = positive(flag, raw, fallback, max);
  if (!Number.isInteger(n)) throw new FatalError(`must be a whole number (got "${String(raw)}")`, `--${flag}`);
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
    instances: { type: 'string' },
    'jwt-secret': { type: 'string' },
    'anon-key': { type: 'string' },
    'service-role-key': { type: 'string' },
    'sessions-per-day': { type: 'string' },
    'session-minutes': { type: 'string' },
    'calls-per-session': { type: 'string' },
    'peak-factor': { type: 'string' },
    'dau-mau': { type: 'string' },
    output: { type: 'string', short: 'o' },
    'db-url': { type: 'string' },
    p99: { type: 'string' },
    'max-errors': { type: 'string' },
    'start-users': { type: 'string' },
    'max-users': { type: 'string' },
    'step-seconds': { type: 'string' },
    'confirm-steps': { type: 'string' },
    'confirm-seconds': { type: 'string' },
    generators: { type: 'string' },
    quick: { type: 'boolean' },
    json: { type: 'boolean' },
    markdown: { type: 'string' },
    'print-schema': { type: 'boolean' },
    dir: { type: 'string' },
  });
  if (flags.help) {
    process.stdout.write(`${benchHelp}\n`);
    return 0;
  }
  if (flags['print-schema']) {
    process.stdout.write(scenario.schema ?? '-- this scenario needs no schema of its own\n');
    return 0;
  }
  if (flags.output !== undefined && flags.output !== 'json' && flags.output !== 'text')
    throw new FatalError(`unknown output format "${String(flags.output)}" (use json or text)`, '-o');
  const json = flags.json === true || flags.output === 'json';
  if (flags.json === true && flags.output === 'text') throw new FatalError('contradicts -o text', '--json');
  const usage = usageAssumptions(flags);
  const quick = flags.quick === true;
  const stepSeconds = positive('step-seconds', flags['step-seconds'], quick ? 2 : 10, 3600);
  // The harness lengthens a step to two think times; a confirming step is longer than that.
  const effectiveStep = Math.max(stepSeconds, (2 * scenario.thinkMs) / 1000);
  const options: HarnessOptions = {
    budget: {
      p99Ms: positive('p99', flags.p99, 100, 60_000),
      maxErrorRate: positive('max-errors', flags['max-errors'], 1, 100) / 100,
    },
    search: {
      startUsers: Math.round(positive('start-users', flags['start-users'], quick ? 40 : 10)),
      maxUsers: Math.round(positive('max-users', flags['max-users'], 5000)),
      resolution: quick ? 0.25 : 0.1,
      maxSteps: quick ? 4 : 14,
    },
    confirm: {
      maxSteps: flags['confirm-steps'] === '0' ? 0 : whole('confirm-steps', flags['confirm-steps'], quick ? 2 : 4, 20),
      seconds: positive('confirm-seconds', flags['confirm-seconds'], effectiveStep * (quick ? 1.5 : 3), 3600),
      resolution: quick ? 0.25 : 0.1,
    },
    stepSeconds,
    warmupSeconds: quick ? 1 : 2,
    generators: whole('generators', flags.generators, DEFAULT_GENERATORS, 64),
    settleSeconds: quick ? 2 : 30,
    generatorLimits: GENERATOR_LIMITS,
    saturationUsers: 16,
    saturationSeconds: flags['step-seconds'] !== undefined ? stepSeconds : quick ? 2 : 10,
    usage,
    progress: progressPrinter(),
  };
  const target = await openTarget(flags, scenario);
  try {
    const report = await runBench(scenario, target, options);
    const markdown = renderReport(report);
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `\n${markdown}\n`);
    // Kept for Studio's observability page (docs/studio.md); a report that cannot be kept is still printed.
    const command = `trellis bench ${scenario.name}${quick ? ' --quick' : ''}`;
    await (async () => saveLastReport(loadConfig({ dir: flags.dir }).dataDir, command, report))().catch(
      (err: unknown) => process.stderr.write(`could not keep the report for Studio: ${errorMessage(err)}\n`),
    );
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

const ASSUMPTION_FLAGS: readonly [keyof UsageAssumptions, string, number][] = [
  ['sessionsPerDay', 'sessions-per-day', 1440],
  ['sessionMinutes', 'session-minutes', 1440],
  ['callsPerSession', 'calls-per-session', 1_000_000],
  ['peakFactor', 'peak-factor', 24],
  ['dauPerMau', 'dau-mau', 1],
];

/** The seeds' assumptions, each flag given replacing its default; a day they cannot make is refused. */
function usageAssumptions(flags: Record<string, string | boolean | undefined>): HarnessOptions['usage'] {
  const given = ASSUMPTION_FLAGS.filter(([, flag]) => flags[flag] !== undefined);
  const assumptions: UsageAssumptions = {
    ...SEED_ASSUMPTIONS,
    ...Object.fromEntries(given.map(([key, flag, max]) => [key, positive(flag, flags[flag], 0, max)])),
  };
  const problem = assumptionsProblem(assumptions);
  if (problem) throw new FatalError(problem, given.length ? `--${given.map(([, f]) => f).join(', --')}` : undefined);
  return { assumptions, overridden: given.map(([key]) => key) };
}

const TARGET_ONLY = ['jwt-secret', 'anon-key', 'service-role-key', 'db-url', 'instances'] as const;

async function openTarget(flags: Record<string, string | boolean | undefined>, scenario: Scenario): Promise<Target> {
  const list = flags.target;
  if (typeof list !== 'string') {
    const stray = TARGET_ONLY.find((f) => flags[f] !== undefined);
    if (stray) throw new FatalError('only with --target', `--${stray}`);
    return startLocalTarget({
      schema: scenario.schema,
      env: { ...scenario.serverEnv },
      log: (line) => process.stderr.write(`${line}\n`),
    });
  }
  const urls = list.split(',').map((u) => u.trim().replace(/\/+$/, ''));
  for (const url of urls)
    if (!/^https?:\/\/[^/\s]+(\/\S*)?$/.test(url))
      throw new FatalError(`must be http:// or https:// URLs, separated by commas (got "${url}")`, '--target');
  const twice = urls.find((u, i) => urls.indexOf(u) !== i);
  if (twice) throw new FatalError(`names ${twice} twice`, '--target');
  const instances = flags.instances === undefined ? undefined : positive('instances', flags.instances, 1, 10_000);
  if (instances !== undefined && (!Number.isInteger(instances) || urls.length > 1))
    throw new FatalError(
      urls.length > 1 ? 'with one --target URL (a load balancer), not a list' : 'must be a whole number',
      '--instances',
    );
  const env = benchTargetEnv();
  const string = (flag: string, fallback: string | undefined) => {
    const value = flags[flag];
    return typeof value === 'string' ? value : fallback;
  };
  const secret = string('jwt-secret', env.jwtSecret);
  if (secret !== undefined && secret.length < 32)
    throw new FatalError(
      "must be the server's JWT secret (from --jwt-secret or JWT_SECRET), at least 32 characters",
      '--jwt-secret',
    );
  if (secret === undefined && scenario.signsTokens)
    throw new FatalError(
      `--target needs the server's JWT secret for ${scenario.name}, whose users' tokens are signed here (\`trellis status\` prints it; or JWT_SECRET)`,
      '--jwt-secret',
    );
  const anonKey = string('anon-key', env.anonKey);
  const serviceRoleKey = string('service-role-key', env.serviceRoleKey);
  for (const [flag, key] of [
    ['anon-key', anonKey],
    ['service-role-key', serviceRoleKey],
  ] as const)
    if (key !== undefined && !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(key))
      throw new FatalError('must be a JWT (three base64url parts separated by dots)', `--${flag}`);
  const dbUrl = string('db-url', env.dbUrl);
  if (dbUrl !== undefined && !/^postgres(ql)?:\/\//.test(dbUrl))
    throw new FatalError('must be a postgres:// URL', '--db-url');
  return remoteTarget({ urls, instances, jwtSecret: secret, anonKey, serviceRoleKey, dbUrl });
}

/** On a terminal, one line rewritten in place; otherwise only the line each step ends with. */
function progressPrinter(): HarnessOptions['progress'] {
  const tty = process.stderr.isTTY === true;
  return (line, final) => {
    if (tty) process.stderr.write(`\r\x1b[K${line}${final ? '\n' : ''}`);
    else if (final) process.stderr.write(`${line}\n`);
  };
}
