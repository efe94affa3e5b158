import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { freePort, runCli, startCli, tempProject, type CliResult, type RunningCli } from '../helpers/cli.js';

/** Each bad input ends with exactly one line that says what and where, and a non-zero exit. */
function expectOneLineFailure(result: CliResult, pattern: RegExp) {
  expect(result.code, result.stderr).not.toBe(0);
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^trellis: /);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

const dirs: string[] = [];
async function project(migrations: Record<string, string> = {}) {
  const dir = await tempProject(migrations);
  dirs.push(dir);
  return dir;
}
afterAll(() => Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true }))));

describe('the CLI refuses bad flags and settings', () => {
  test.each([
    [['start', '--frobnicate'], /Unknown option '--frobnicate' \(see `trellis start --help`\)/],
    [['status', '-x'], /Unknown option '-x'/],
    [
      ['launch'],
      /unknown command "launch" \(commands: start, status, migrate, db, gen, import, move, bench, backup, restore, keys, storage, secrets, studio\)/,
    ],
    [['storage', 'buckets'], /unknown storage command "buckets" \(commands: keys, verify, move\)/],
    [['storage', 'keys', 'rotate'], /unknown storage keys command "rotate" \(commands: create, list, revoke\)/],
    [['storage', 'keys', 'create', '-o', 'yaml'], /-o: -o takes only json/],
    [['storage', 'keys', 'list', 'extra'], /unexpected argument "extra"/],
    [['import'], /name the file to import \(see `trellis import --help`\)/],
    [['import', 'no-such.db'], /cannot open no-such\.db: ENOENT/],
    [['import', 'app.db', '--users-table', 'users'], /--users-table: needs --email-column and --password-column too/],
    [['import', 'app.db', '--email-column', 'email'], /--email-column: only with --users-table/],
    [['import', 'app.db', '--storage-dir', 'files'], /--storage-dir: only for PostgreSQL dumps; app\.db is not one/],
    [['import', 'app.db', '--truncate'], /Unknown option '--truncate' \(see `trellis import --help`\)/],
    [['db', 'wipe'], /unknown db command "wipe" \(commands: reset\)/],
    [['db', 'reset', '--force'], /Unknown option '--force' \(see `trellis db reset --help`\)/],
    [['start', '--port', 'eighty'], /--port: must be a whole number between 1 and 65535 \(got "eighty"\)/],
    [['start', '--port'], /Option '--port <value>' argument missing/],
    [['status', '-o', 'yaml'], /-o: unknown output format "yaml"/],
    [['keys', 'burn'], /unknown keys command "burn" \(commands: list, generate, rotate, revoke\)/],
    [['keys', 'generate', '--alg', 'HS512'], /--alg: unsupported algorithm "HS512" \(use ES256 or RS256\)/],
    [['keys', 'revoke'], /which key\? `trellis keys revoke <kid>`/],
    [['keys', 'revoke', 'a', 'b'], /unexpected argument "b"/],
    [['keys', 'rotate', 'no-such-kid'], /no key no-such-kid in the file/],
    [['keys', 'list', '--force'], /Unknown option '--force' \(see `trellis keys list --help`\)/],
  ])('%j', async (args, pattern) => {
    expectOneLineFailure(await runCli(args), pattern);
  });

  test.each([
    ['RATE_LIMIT_REST', '100 a minute', /^trellis: RATE_LIMIT_REST: must be COUNT\/WINDOW such as 100\/1m/],
    ['RATE_LIMIT_REALTIME', '0/1s', /^trellis: RATE_LIMIT_REALTIME: the count must be between 1 and/],
  ])('a bad %s=%j stops the start, naming it', async (name, value, pattern) => {
    expectOneLineFailure(await runCli(['start', '--dir', await project()], { [name]: value }), pattern);
  });

  test('an invalid environment value names the variable', async () => {
    expectOneLineFailure(
      await runCli(['start', '--dir', await project()], { PORT: 'abc' }),
      /^trellis: PORT: must be a whole number/,
    );
  });

  test('--help describes the command and succeeds', async () => {
    const result = await runCli(['start', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: trellis start');
  });
});

describe('start refuses a folder it cannot use', () => {
  test('a --dir that does not exist', async () => {
    expectOneLineFailure(
      await runCli(['start', '--dir', '/nonexistent/project']),
      /--dir: \/nonexistent\/project does not exist/,
    );
  });

  test('a --dir that cannot be written', async () => {
    // /sys refuses writes even to root, as a read-only mount would.
    expectOneLineFailure(await runCli(['start', '--dir', '/sys']), /--dir: cannot write \/sys\/\.trellis/);
  });

  test('a --dir that is a file', async () => {
    const file = path.join(await project(), 'file.txt');
    await fs.writeFile(file, 'x');
    expectOneLineFailure(await runCli(['start', '--dir', file]), /--dir: .*file\.txt is not a folder/);
  });

  test('a data folder that is not a PostgreSQL cluster', async () => {
    const dir = await project();
    await fs.mkdir(path.join(dir, '.trellis', 'pg'), { recursive: true });
    await fs.writeFile(path.join(dir, '.trellis', 'pg', 'something.txt'), 'not a database');
    expectOneLineFailure(
      await runCli(['start', '--dir', dir, '--port', String(await freePort())]),
      /\.trellis\/pg is not a PostgreSQL data folder/,
    );
    expect(await fs.readFile(path.join(dir, '.trellis', 'pg', 'something.txt'), 'utf8')).toBe('not a database');
  });

  test('a cluster from another PostgreSQL major version', async () => {
    const dir = await project();
    await fs.mkdir(path.join(dir, '.trellis', 'pg'), { recursive: true });
    await fs.writeFile(path.join(dir, '.trellis', 'pg', 'PG_VERSION'), '9\n');
    await fs.writeFile(
      path.join(dir, '.trellis', 'secrets.json'),
      JSON.stringify({ jwtSecret: 'x'.repeat(40), dbPassword: 'y'.repeat(20) }),
    );
    expectOneLineFailure(
      await runCli(['start', '--dir', dir, '--port', String(await freePort())]),
      /holds a PostgreSQL 9 cluster but Trellis embeds PostgreSQL \d+/,
    );
  });

  test('a corrupt secrets file', async () => {
    const dir = await project();
    await fs.mkdir(path.join(dir, '.trellis'), { recursive: true });
    await fs.writeFile(path.join(dir, '.trellis', 'secrets.json'), '{"jwtSecret": ');
    expectOneLineFailure(
      await runCli(['start', '--dir', dir, '--port', String(await freePort())]),
      /secrets\.json is not valid JSON/,
    );
    await fs.writeFile(path.join(dir, '.trellis', 'secrets.json'), '{"jwtSecret": "short"}');
    expectOneLineFailure(
      await runCli(['start', '--dir', dir, '--port', String(await freePort())]),
      /secrets\.json is not a Trellis secrets file \(jwtSecret: /,
    );
  });

  test('a lost secrets file beside an existing cluster is refused, not replaced', async () => {
    const dir = await project();
    await (await startCli(dir)).stop();
    await fs.rm(path.join(dir, '.trellis', 'secrets.json'));
    expectOneLineFailure(
      await runCli(['start', '--dir', dir, '--port', String(await freePort())]),
      /secrets\.json is missing but .*\.trellis\/pg holds a database; restore the file from a backup/,
    );
    await expect(fs.access(path.join(dir, '.trellis', 'secrets.json'))).rejects.toThrow();
  });

  test('a port already in use, found before the database starts', async () => {
    const blocker = net.createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)),
    );
    try {
      const dir = await project();
      const result = await runCli(['start', '--dir', dir, '--port', String(port)]);
      expectOneLineFailure(result, new RegExp(`--port: port ${port} is already in use`));
      await expect(fs.access(path.join(dir, '.trellis', 'pg'))).rejects.toThrow();
      await expect(fs.access(path.join(dir, '.trellis', 'trellis.pid'))).rejects.toThrow();
    } finally {
      blocker.close();
    }
  });
});

describe('start refuses a database it cannot use', () => {
  let running: RunningCli;
  let runningDir: string;
  let database: TestDatabase;
  beforeAll(async () => {
    runningDir = await project();
    running = await startCli(runningDir);
    database = await freshDatabase();
  });
  afterAll(async () => {
    await running.stop();
    await database.drop();
  });

  test('a second Trellis on the same data folder', async () => {
    expectOneLineFailure(
      await runCli(['start', '--dir', runningDir, '--port', String(await freePort())]),
      /another Trellis \(pid \d+\) is already running on /,
    );
    expect((await fetch(`${running.url}/ready`)).status).toBe(200);
  });

  test('an unreachable DATABASE_URL ends the start within 10 s', async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/postgres`;
    const result = await runCli(['start', '--dir', await project(), '--port', String(await freePort())], {
      DATABASE_URL: url,
    });
    expectOneLineFailure(
      result,
      /^trellis: DATABASE_URL: cannot connect to postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres: connection refused/,
    );
    expect(result.ms).toBeLessThan(10_000);
  });

  test('a DATABASE_URL with a wrong password, without echoing it', async () => {
    const status = JSON.parse((await runCli(['status', '--dir', runningDir, '-o', 'json'])).stdout) as {
      DB_URL: string;
    };
    const wrong = new URL(status.DB_URL);
    wrong.password = 'wrong-password';
    const result = await runCli(['start', '--dir', await project(), '--port', String(await freePort())], {
      DATABASE_URL: wrong.toString(),
    });
    expectOneLineFailure(
      result,
      /^trellis: DATABASE_URL: cannot connect to .*: password authentication failed for user "postgres"/,
    );
    expect(result.stderr).not.toContain('wrong-password');
  });

  test('a migration with a syntax error names file and line and leaves nothing half-applied', async () => {
    const dir = await project({
      '20240101000000_ok.sql': 'create table ok (id int);',
      '20240102000000_broken.sql':
        'create table half (id int);\ninsert into half values (1);\ncreat table oops (id int);\n',
    });
    const result = await runCli(['start', '--dir', dir, '--port', String(await freePort())], {
      DATABASE_URL: database.url,
    });
    expectOneLineFailure(
      result,
      /migration .*20240102000000_broken\.sql failed at line 3: syntax error at or near "creat"/,
    );
    const check = await runCli(['migrate', '--dir', dir, '--dry-run'], { DATABASE_URL: database.url });
    expect(check.stdout).toContain('1 migration(s) pending:\n  20240102000000_broken.sql');
    await fs.writeFile(
      path.join(dir, 'supabase', 'migrations', '20240102000000_broken.sql'),
      'create table half (id int);\ninsert into half values (1);\n',
    );
    const fixed = await runCli(['migrate', '--dir', dir], { DATABASE_URL: database.url });
    expect(fixed.stderr).toBe('');
    expect(fixed.stdout).toContain('1 migration(s) applied');
  });
});
