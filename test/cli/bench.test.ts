import { mkdtempSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { BenchReport } from '../../src/capacity/harness.js';
import { crudScenario } from '../../src/capacity/scenarios/crud.js';
import { authScenario } from '../../src/capacity/scenarios/auth.js';
import { freePort, runCli, type CliResult } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Where the runs without a project of their own keep their last report (not the checkout). */
const KEPT_DIR = mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-kept-'));

function expectOneLineFailure(result: CliResult, pattern: RegExp) {
  expect(result.code, result.stderr).toBe(1);
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^trellis: /);
  expect(lines[0]).toMatch(pattern);
}

const SECRET = 'a-bench-secret-with-at-least-32-characters';

describe('trellis bench refuses bad input with one line', () => {
  test.each([
    [['bench'], /name a scenario first: trellis bench <chat\|crud\|auth>/],
    [['bench', '--quick'], /name a scenario first/],
    [['bench', 'chatroulette'], /unknown scenario "chatroulette" \(scenarios: chat, crud, auth\)/],
    [['bench', 'crud', '--p99', 'fast'], /--p99: must be a number between 0 and 60000 \(got "fast"\)/],
    [
      ['bench', 'crud', '--max-users', '-5'],
      /Option '--max-users' argument is ambiguous \(write a value that starts with '-' as --option=-value\)/,
    ],
    [['bench', 'crud', '--max-users=-5'], /--max-users: must be a number/],
    [['bench', 'crud', '--step-seconds', '0'], /--step-seconds: must be a number/],
    [['bench', 'crud', '--generators', '0'], /--generators: must be a number between 0 and 64 \(got "0"\)/],
    [['bench', 'crud', '--generators', '1.5'], /--generators: must be a whole number \(got "1.5"\)/],
    [['bench', 'crud', '--generators', '65'], /--generators: must be a number between 0 and 64/],
    [['bench', 'crud', '--confirm-steps', 'x'], /--confirm-steps: must be a number/],
    [['bench', 'crud', '--confirm-seconds', '-1'], /Option '--confirm-seconds' argument is ambiguous/],
    [['bench', 'crud', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['bench', 'crud', '--jwt-secret', SECRET], /--jwt-secret: only with --target/],
    [
      ['bench', 'crud', '--target', 'ftp://example.com', '--jwt-secret', SECRET],
      /--target: must be http:\/\/ or https:\/\/ URLs, separated by commas \(got "ftp:\/\/example.com"\)/,
    ],
    [
      ['bench', 'crud', '--target', 'http://127.0.0.1:9,javascript:alert(1)', '--jwt-secret', SECRET],
      /--target: must be http:\/\/ or https:\/\/ URLs, separated by commas \(got "javascript:alert\(1\)"\)/,
    ],
    [
      ['bench', 'crud', '--target', 'http://a:1,http://a:1/', '--jwt-secret', SECRET],
      /--target: names http:\/\/a:1 twice/,
    ],
    [['bench', 'crud', '--instances', '3'], /--instances: only with --target/],
    [
      ['bench', 'crud', '--target', 'http://a:1,http://b:2', '--instances', '2', '--jwt-secret', SECRET],
      /--instances: with one --target URL \(a load balancer\), not a list/,
    ],
    [
      ['bench', 'crud', '--target', 'http://a:1', '--instances', '2.5', '--jwt-secret', SECRET],
      /--instances: must be a whole number/,
    ],
    [
      ['bench', 'crud', '--target', 'http://a:1', '--jwt-secret', SECRET, '--anon-key', "x' or 1=1"],
      /--anon-key: must be a JWT \(three base64url parts separated by dots\)/,
    ],
    [
      ['bench', 'crud', '--sessions-per-day', '0'],
      /--sessions-per-day: must be a number between 0 and 1440 \(got "0"\)/,
    ],
    [['bench', 'crud', '--calls-per-session', '1e400'], /--calls-per-session: must be a number/],
    [['bench', 'crud', '--dau-mau', '1.5'], /--dau-mau: must be a number between 0 and 1 \(got "1.5"\)/],
    [
      ['bench', 'crud', '--peak-factor', '0.5'],
      /--peak-factor: the peak factor is the busiest hour over an average one: at least 1/,
    ],
    [
      ['bench', 'crud', '--sessions-per-day', '10', '--session-minutes', '60'],
      /--sessions-per-day, --session-minutes: 10 sessions × 60 minutes × peak factor 3 puts more than every daily user in session/,
    ],
    [['bench', 'crud', '-o', 'yaml'], /-o: unknown output format "yaml" \(use json or text\)/],
    [['bench', 'crud', '--target', 'http://127.0.0.1:9'], /--jwt-secret: --target needs the server's JWT secret/],
    [['bench', 'crud', '--target', 'http://127.0.0.1:9', '--jwt-secret', 'short'], /--jwt-secret/],
    [
      ['bench', 'crud', '--target', 'http://127.0.0.1:9', '--jwt-secret', SECRET, '--db-url', 'mysql://x'],
      /--db-url: must be a postgres:\/\/ URL/,
    ],
  ])('%j', async (args, pattern) => {
    expectOneLineFailure(await runCli(args), pattern);
  });

  test('a target where no Trellis answers', async () => {
    const port = await freePort();
    expectOneLineFailure(
      await runCli(['bench', 'crud', '--target', `http://127.0.0.1:${port}`, '--jwt-secret', SECRET]),
      /--target: no Trellis answers at http:\/\/127\.0\.0\.1:\d+/,
    );
  });

  test('--print-schema prints the SQL a target needs; --help documents every flag', async () => {
    const schema = await runCli(['bench', 'crud', '--print-schema']);
    expect(schema.code).toBe(0);
    expect(schema.stdout).toContain('create table if not exists public.bench_listings');
    const help = await runCli(['bench', '--help']);
    for (const flag of [
      '--target',
      '--instances',
      '--jwt-secret',
      '--anon-key',
      '--service-role-key',
      '--db-url',
      '--sessions-per-day',
      '--session-minutes',
      '--calls-per-session',
      '--peak-factor',
      '--dau-mau',
      '-o json',
      '--p99',
      '--max-errors',
      '--start-users',
      '--max-users',
      '--step-seconds',
      '--confirm-steps',
      '--confirm-seconds',
      '--generators',
      '--quick',
      '--json',
      '--markdown',
      '--print-schema',
    ]) {
      expect(help.stdout).toContain(flag);
    }
  });
});

function expectRealReport(report: BenchReport, subject = 'this machine sustains') {
  expect(report.scenario).toBe('crud');
  expect(report.steps[0]?.users).toBe(20);
  expect(report.statement.startsWith(subject) || report.statement.startsWith('no load held'), report.statement).toBe(
    true,
  );
  expect(report.statement).toMatch(/ (at least )?\d+ concurrent catalogue users at p99 < 100 ms|^no load held/);
  expectActiveUsers(report);
  const ops = Object.fromEntries(report.saturation.trellis.operations.map((o) => [o.op, o]));
  for (const op of ['browse listings', 'own bookings', 'book']) {
    expect(ops[op]?.count, op).toBeGreaterThan(0);
    expect(ops[op]?.errors, op).toBe(0);
  }
  expect(report.saturation.floor?.overall.count).toBeGreaterThan(0);
  expect(report.saturation.floor?.overall.errors).toBe(0);
  expect(report.saturation.ratio).toBeGreaterThan(0);
}

/**
 * The users ran in the load generators (two by default), each step says how loaded they were and
 * how busy Trellis and PostgreSQL were, and a boundary the search found was repeated longer.
 */
function expectGeneratorsAndCpu(report: BenchReport) {
  expect(report.generators).toBe(Math.max(2, os.availableParallelism()));
  expect(report.generatorLimits).toEqual({ lagP99Ms: 20, cpuPercent: 80 });
  for (const step of report.steps) {
    expect(step.generators).toHaveLength(report.generators);
    for (const g of step.generators) {
      expect(g.cpuPercent).toBeGreaterThan(0);
      expect(g.lagP99Ms).toBeGreaterThanOrEqual(0);
      expect(g.lagMaxMs).toBeGreaterThanOrEqual(g.lagP99Ms);
    }
    expect(step.generatorLimited).toBe(step.generatorLimit !== undefined);
    if (step.generatorLimited) expect(step.holds).toBe(false);
    // A local target: the Trellis process and the embedded PostgreSQL, apart.
    expect(step.serverCpuPercent).toBeGreaterThan(0);
    expect(step.databaseCpuPercent).toBeGreaterThan(0);
  }
  const search = report.steps.filter((s) => s.phase === 'search');
  const confirm = report.steps.filter((s) => s.phase === 'confirm');
  expect(search.length).toBeGreaterThan(0);
  if (report.searchCapacity > 0) {
    // The last load that held, repeated with a longer step (1.5 step lengths with --quick).
    expect(confirm[0]?.users).toBe(report.searchCapacity);
    expect(confirm[0]?.seconds).toBeGreaterThan(search[0]?.seconds ?? Infinity);
    expect(report.capacity).toBe(Math.max(0, ...confirm.filter((s) => s.holds).map((s) => s.users)));
  }
  expect(report.saturation.trellis.serverCpuPercent).toBeGreaterThan(0);
  expect(report.saturation.trellis.databaseCpuPercent).toBeGreaterThan(0);
  expect(report.saturation.trellis.generators).toHaveLength(report.generators);
}

/** The seeds' terms follow from the step that held, by the arithmetic the report prints. */
function expectActiveUsers(report: BenchReport) {
  const { activeUsers: au, capacity } = report;
  expect(au.measured.virtualUsers).toBe(capacity);
  if (capacity === 0) return;
  // The step the figure comes from: the confirming one when the boundary was repeated.
  const held = report.steps.filter((s) => s.users === capacity && s.holds).at(-1);
  // The calls of the held step: what it measured, within a rounding of its throughput.
  expect(au.measured.callsPerSecond).toBeGreaterThan(0);
  expect(au.measured.callsPerSecond).toBeCloseTo(held?.perSecond ?? NaN, 0);
  const { sessionsPerDay, sessionMinutes, callsPerSession, peakFactor, dauPerMau } = au.assumptions;
  expect(au.concurrent).toBe(Math.floor((au.measured.callsPerSecond * sessionMinutes * 60) / callsPerSession));
  expect(au.daily).toBe(Math.floor((au.concurrent * 1440) / (sessionsPerDay * sessionMinutes * peakFactor)));
  expect(au.monthly).toBe(Math.floor(au.daily / dauPerMau + 1e-9));
  expect(au.statement).toMatch(
    /^in the seeds' terms: (at least )?[\d,]+ users in session at the busiest hour, [\d,]+ daily and [\d,]+ monthly active users$/,
  );
  expect(au.arithmetic.length).toBeGreaterThanOrEqual(6);
}

describe('trellis bench crud, for real and briefly', () => {
  test('starts its own Trellis, steps the load, runs the floor, and writes JSON and Markdown', async () => {
    const markdown = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-bench-md-')), 'benchmarks.md');
    await fs.writeFile(markdown, '# Benchmarks\n\n<!-- bench-crud:begin -->\nold\n<!-- bench-crud:end -->\n');
    const project = path.dirname(markdown);
    const result = await runCli(
      [
        'bench',
        'crud',
        '--quick',
        '--step-seconds',
        '1',
        '--max-users',
        '20',
        '--json',
        '--markdown',
        markdown,
        '--dir',
        project,
      ],
      {},
      90_000,
    );
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as BenchReport;
    expectRealReport(report);
    expectGeneratorsAndCpu(report);
    expect(report.activeUsers.assumptions).toEqual({
      sessionsPerDay: 3,
      sessionMinutes: 10,
      callsPerSession: 20,
      peakFactor: 3,
      dauPerMau: 0.25,
    });
    expect(report.activeUsers.overridden).toEqual([]);
    // The report is kept for Studio (GET /studio/api/bench/last).
    const kept = JSON.parse(await fs.readFile(path.join(project, '.trellis', 'bench-last.json'), 'utf8'));
    expect(kept).toMatchObject({ command: 'trellis bench crud --quick', report: { statement: report.statement } });
    const doc = await fs.readFile(markdown, 'utf8');
    expect(doc).not.toContain('old');
    expect(doc).toContain("In the seeds' terms: **");
    expect(doc).toContain('- a user in session makes 20 calls (seed 004) in 10 min');
    expect(doc).toContain('| Users | Step | Throughput | p50 | p95 | p99 | Errors | Node.js CPU | PostgreSQL CPU |');
    expect(doc).toMatch(/\| 20 \| search \d+ s \|/);
    expect(doc).toContain('load generators (child processes) drove the users');
    expect(doc).toContain('| Run | Server (Node.js) | PostgreSQL | Calls |');
    expect(doc).toMatch(
      /<!-- bench-crud:begin -->\nMeasured \d{4}-\d\d-\d\d on .* .* by `trellis bench crud --quick`[\s\S]*\| \*\*all\*\* \|[\s\S]*<!-- bench-crud:end -->/,
    );
    await fs.rm(path.dirname(markdown), { recursive: true });
  }, 120_000);

  test("chat: users on realtime channels see each other's messages and typing, and the deliveries are timed", async () => {
    const result = await runCli(
      ['bench', 'chat', '--quick', '--step-seconds', '2', '--max-users', '20', '--json', '--dir', KEPT_DIR],
      {},
      90_000,
    );
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as BenchReport;
    const ops = Object.fromEntries(report.saturation.trellis.operations.map((o) => [o.op, o]));
    for (const op of ['read history', 'type', 'post message', 'message delivered', 'typing delivered']) {
      expect(ops[op]?.count, op).toBeGreaterThan(0);
      expect(ops[op]?.errors, op).toBe(0);
    }
    // Ten users a room (the last room six): a message reaches five to nine others; some land after the window.
    expect(ops['message delivered']?.count).toBeGreaterThan((ops['post message']?.count ?? 0) * 3);
    // The floor (raw ws rooms) and the peer (Socket.IO rooms) do the same turns in the same run.
    for (const [name, run] of [
      ['floor', report.saturation.floor],
      ['peer', report.saturation.peer],
    ] as const) {
      const theirs = Object.fromEntries((run?.operations ?? []).map((o) => [o.op, o]));
      for (const op of ['read history', 'type', 'post message', 'message delivered', 'typing delivered']) {
        expect(theirs[op]?.count, `${name}: ${op}`).toBeGreaterThan(0);
        expect(theirs[op]?.errors, `${name}: ${op}`).toBe(0);
      }
    }
    expect(report.saturation.ratio).toBeGreaterThan(0);
    expectGeneratorsAndCpu(report);
    // The floor's own process and PostgreSQL are measured beside Trellis's at full speed.
    expect(report.saturation.floor?.serverCpuPercent).toBeGreaterThan(0);
    expect(report.saturation.floor?.databaseCpuPercent).toBeGreaterThan(0);
    expect(report.saturation.floor?.callsPerSecond).toBeGreaterThan(0);
  }, 120_000);

  describe('against running Trellis instances (--target)', () => {
    let server: TestServer;
    let second: TestServer;
    const migrations = { '20240101000000_bench.sql': crudScenario.schema ?? '' };
    beforeAll(async () => {
      // A deployment measured with `bench auth --target` needs its sign-in limits raised (docs/cli.md).
      const env = authScenario.serverEnv;
      server = await startTestServer({ migrations, env });
      // A second instance on the same database, as behind a load balancer.
      second = await startTestServer({ migrations, databaseUrl: server.databaseUrl, env });
    });
    afterAll(async () => {
      await second.stop();
      await server.stop();
    });

    // --dir: the kept report goes to the server's project folder, not the checkout's.
    const quick = ['--quick', '--step-seconds', '1', '--max-users', '20', '--dir', KEPT_DIR];
    /** Requests the instance answered so far, from its own /metrics. */
    const answered = async (instance: TestServer) => {
      const text = await fetch(`${instance.url}/metrics`, { headers: { apikey: instance.serviceRoleKey } }).then((r) =>
        r.text(),
      );
      return [...text.matchAll(/^trellis_http_requests_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };

    test('uses its keys from the JWT secret and its database for the floor; assumptions from flags', async () => {
      const result = await runCli(
        [
          'bench',
          'crud',
          '--target',
          server.url,
          '--jwt-secret',
          server.jwtSecret,
          '--db-url',
          server.databaseUrl,
          '--sessions-per-day',
          '2',
          '--dau-mau',
          '0.5',
          ...quick,
          '--json',
        ],
        {},
        90_000,
      );
      expect(result.code, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as BenchReport;
      expectRealReport(report, `the Trellis at ${server.url} sustains`);
      expect(report.target).toBe(server.url);
      expect(report.instances).toBe(1);
      expect(report.activeUsers.assumptions).toMatchObject({ sessionsPerDay: 2, dauPerMau: 0.5, callsPerSession: 20 });
      expect(report.activeUsers.overridden).toEqual(['sessionsPerDay', 'dauPerMau']);
      expect(report.activeUsers.arithmetic.join('\n')).toContain('2 sessions a day (given)');
      // Bookings were written as the synthetic users, under RLS (user_id = auth.uid()).
      const booked = await server.sql.query<{ n: number; users: number }>(
        'select count(*)::int as n, count(distinct user_id)::int as users from public.bench_bookings',
      );
      expect(booked.rows[0]?.n).toBeGreaterThan(0);
      expect(booked.rows[0]?.users).toBeGreaterThan(1);
    }, 120_000);

    test('two instances: the users are spread over both, keys from the environment, CPU from their /metrics', async () => {
      const before = await Promise.all([answered(server), answered(second)]);
      const result = await runCli(
        ['bench', 'crud', '--target', `${server.url},${second.url}/`, ...quick, '-o', 'json'],
        {
          ANON_KEY: server.anonKey,
          SERVICE_ROLE_KEY: server.serviceRoleKey,
          JWT_SECRET: server.jwtSecret,
          DB_URL: server.databaseUrl,
        },
        90_000,
      );
      expect(result.code, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as BenchReport;
      expectRealReport(report, `2 instances at ${server.url}, ${second.url} sustain`);
      expect(report.targets).toEqual([server.url, second.url]);
      expect(report.instances).toBe(2);
      expect(report.steps[0]?.serverCpuPercent).toBeGreaterThan(0);
      expect(report.steps[0]?.serverRssMb).toBeGreaterThan(0);
      const after = await Promise.all([answered(server), answered(second)]);
      // Twenty users over two instances, a call a second each for at least two seconds.
      expect(after[0] - (before[0] ?? 0)).toBeGreaterThan(15);
      expect(after[1] - (before[1] ?? 0)).toBeGreaterThan(15);
    }, 120_000);

    test('auth needs only the keys; a load balancer is named with --instances', async () => {
      const result = await runCli(
        [
          'bench',
          'auth',
          '--target',
          server.url,
          '--instances',
          '2',
          '--anon-key',
          server.anonKey,
          '--service-role-key',
          server.serviceRoleKey,
          '--quick',
          '--max-users',
          '4',
          '--json',
        ],
        {},
        90_000,
      );
      expect(result.code, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as BenchReport;
      expect(report.statement).toMatch(
        new RegExp(
          `^(2 instances behind ${server.url} sustain (at least )?\\d+ concurrent signed-in users|no load held)`,
        ),
      );
      expect(report.instances).toBe(2);
      // Behind a balancer /metrics answers for one instance or another: no sum is claimed.
      expect(report.steps[0]?.serverCpuPercent).toBeUndefined();
      const ops = Object.fromEntries(report.saturation.trellis.operations.map((o) => [o.op, o]));
      expect(ops.refresh?.count).toBeGreaterThan(0);
      expect(ops.refresh?.errors, ops.refresh?.firstError).toBe(0);
    }, 120_000);

    test.each([
      [['auth'], /--target: --target needs the anon and service_role keys/],
      [
        ['auth', '--anon-key', 'a.b.c', '--service-role-key', 'a.b.c'],
        /--anon-key: .* refused the anon key \(GET \/auth\/v1\/settings gave 401\)/,
      ],
      [['crud', '--jwt-secret', 'x'.repeat(40)], /--anon-key: .* refused the anon key/],
      [
        ['auth', '--anon-key', 'ANON', '--service-role-key', 'ANON'],
        /--service-role-key: .* refused the service_role key/,
      ],
    ])('refused before any load: %j', async (args, pattern) => {
      const [scenario = '', ...flags] = args;
      const keyed = flags.map((f) => (f === 'ANON' ? server.anonKey : f));
      expectOneLineFailure(await runCli(['bench', scenario, '--target', server.url, ...keyed]), pattern);
    });
  });
});
