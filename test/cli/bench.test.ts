import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { BenchReport } from '../../src/capacity/harness.js';
import { crudScenario } from '../../src/capacity/scenarios/crud.js';
import { freePort, runCli, type CliResult } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

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
    [['bench', 'crud', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['bench', 'crud', '--jwt-secret', SECRET], /--jwt-secret: only with --target/],
    [
      ['bench', 'crud', '--target', 'ftp://example.com', '--jwt-secret', SECRET],
      /--target: must be an http:\/\/ or https:\/\/ URL/,
    ],
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
      '--jwt-secret',
      '--db-url',
      '--p99',
      '--max-errors',
      '--start-users',
      '--max-users',
      '--step-seconds',
      '--quick',
      '--json',
      '--markdown',
      '--print-schema',
    ]) {
      expect(help.stdout).toContain(flag);
    }
  });
});

function expectRealReport(report: BenchReport) {
  expect(report.scenario).toBe('crud');
  expect(report.steps[0]?.users).toBe(20);
  expect(report.statement).toMatch(
    /^this machine sustains (at least )?\d+ concurrent catalogue users at p99 < 100 ms|^no load held/,
  );
  const ops = Object.fromEntries(report.saturation.trellis.operations.map((o) => [o.op, o]));
  for (const op of ['browse listings', 'own bookings', 'book']) {
    expect(ops[op]?.count, op).toBeGreaterThan(0);
    expect(ops[op]?.errors, op).toBe(0);
  }
  expect(report.saturation.floor?.overall.count).toBeGreaterThan(0);
  expect(report.saturation.floor?.overall.errors).toBe(0);
  expect(report.saturation.ratio).toBeGreaterThan(0);
}

describe('trellis bench crud, for real and briefly', () => {
  test('starts its own Trellis, steps the load, runs the floor, and writes JSON and Markdown', async () => {
    const markdown = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-bench-md-')), 'benchmarks.md');
    await fs.writeFile(markdown, '# Benchmarks\n\n<!-- bench-crud:begin -->\nold\n<!-- bench-crud:end -->\n');
    const result = await runCli(
      ['bench', 'crud', '--quick', '--step-seconds', '1', '--max-users', '20', '--json', '--markdown', markdown],
      {},
      90_000,
    );
    expect(result.code, result.stderr).toBe(0);
    expectRealReport(JSON.parse(result.stdout) as BenchReport);
    const doc = await fs.readFile(markdown, 'utf8');
    expect(doc).not.toContain('old');
    expect(doc).toMatch(
      /<!-- bench-crud:begin -->\nMeasured \d{4}-\d\d-\d\d on .* .* by `trellis bench crud --quick`[\s\S]*\| \*\*all\*\* \|[\s\S]*<!-- bench-crud:end -->/,
    );
    await fs.rm(path.dirname(markdown), { recursive: true });
  }, 120_000);

  test("chat: users on realtime channels see each other's messages and typing, and the deliveries are timed", async () => {
    const result = await runCli(
      ['bench', 'chat', '--quick', '--step-seconds', '2', '--max-users', '20', '--json'],
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
  }, 120_000);

  describe('against a running Trellis (--target)', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer({ migrations: { '20240101000000_bench.sql': crudScenario.schema ?? '' } });
    });
    afterAll(() => server.stop());

    test('uses its keys from the JWT secret and its database for the floor', async () => {
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
          '--quick',
          '--step-seconds',
          '1',
          '--max-users',
          '20',
          '--json',
        ],
        {},
        90_000,
      );
      expect(result.code, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as BenchReport;
      expectRealReport(report);
      expect(report.target).toBe(server.url);
      // Bookings were written as the synthetic users, under RLS (user_id = auth.uid()).
      const booked = await server.sql.query<{ n: number; users: number }>(
        'select count(*)::int as n, count(distinct user_id)::int as users from public.bench_bookings',
      );
      expect(booked.rows[0]?.n).toBeGreaterThan(0);
      expect(booked.rows[0]?.users).toBeGreaterThan(1);
    }, 120_000);
  });
});
