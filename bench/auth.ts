/**
 * Refresh-token grants per second with p50/p99 through a started Trellis (embedded PostgreSQL),
 * beside their floor measured in the same run: the same grant served by the thinnest code
 * (bench/floors/refresh-floor.mjs: node:http, the rotation in one prepared `pg` statement — lock
 * the token and its session, revoke it, touch the session, insert the child, read the user, its
 * identities, factors and the session's methods — plus the hashing, sealing and HS256 signature a
 * grant cannot avoid), driven by the same HTTP client at the same concurrency, on refresh tokens of
 * its own. A third figure runs the floor's statement from this process with no HTTP at all: what
 * the database round trip alone allows. Password sign-ins are bench/auth-signin.ts's.
 *
 *   npx tsx bench/auth.ts [--seconds 8] [--concurrency 8] [--rounds 4] [--write]
 */
import { parseArgs } from 'node:util';
import crypto from 'node:crypto';
import http from 'node:http';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { once } from 'node:events';
import readline from 'node:readline';
import pg from 'pg';
import { ROTATION } from './floors/refresh-rotation.mjs';
import { jsonPoster } from './http-json.js';
import { report } from './report.js';
import { ROOT, withBenchServer } from './server.js';
import { cpuNow, cpuPerOp, medianCpu, postmasterPid, type CpuSplit } from './cpu.js';
import { medianResult, runLoad, type LoadResult } from './stats.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '4' },
    write: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
const ROUNDS = Number(values.rounds);

/** Starts the HTTP floor on the project's database; resolves to its URL and process. */
async function startFloor(dbUrl: string, jwtSecret: string) {
  const child = spawn(process.execPath, [path.join(ROOT, 'bench', 'floors', 'refresh-floor.mjs'), dbUrl, jwtSecret], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(readline.createInterface({ input: child.stdout }), 'line')) as [string];
  return { url: `http://127.0.0.1:${Number(line)}`, child };
}

async function main() {
  const env = { AUTH_RATE_LIMIT_SIGN_IN: '1000000', AUTH_RATE_LIMIT_TOKEN_REFRESH: '1000000' };
  await withBenchServer({ env }, async ({ url, dbUrl, anonKey, pid, dir, jwtSecret }) => {
    const floor = await startFloor(dbUrl, Buffer.from(jwtSecret).toString('base64url'));
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });
    const postJson = jsonPoster(agent, { apikey: anonKey });
    const post = async (to: string, body: unknown) => {
      const answer = await postJson(to, body);
      if (answer.status !== 200) throw new Error(`${to}: ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body as { refresh_token: string };
    };
    const auth = (p: string, body: unknown) => post(`${url}/auth/v1${p}`, body);

    const users = Array.from({ length: CONCURRENCY }, (_, i) => ({
      email: `bench${i}@example.com`,
      password: `bench password ${i}`,
    }));
    // Each figure rotates refresh tokens of its own: a session each.
    const signIn = () =>
      Promise.all(users.map(async (u) => (await auth('/token?grant_type=password', u)).refresh_token));
    const refreshTokens = await Promise.all(users.map(async (u) => (await auth('/signup', u)).refresh_token));
    const floorTokens = await signIn();
    const statementTokens = await signIn();

    const pool = new pg.Pool({ connectionString: dbUrl, max: CONCURRENCY });
    const sealKey = crypto.randomBytes(32);
    const sha = (t: string) => crypto.createHash('sha256').update(t).digest('hex');
    const seal = (t: string) => {
      const iv = crypto.randomBytes(12);
      const cipher = crypto.createCipheriv('aes-256-gcm', sealKey, iv);
      const body = Buffer.concat([cipher.update(t, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
    };
    const load = { concurrency: CONCURRENCY, seconds: SECONDS / ROUNDS };
    const scenarios = {
      refresh: () =>
        runLoad(async (loop) => {
          refreshTokens[loop] = (
            await auth('/token?grant_type=refresh_token', { refresh_token: refreshTokens[loop] })
          ).refresh_token;
        }, load),
      floor: () =>
        runLoad(async (loop) => {
          floorTokens[loop] = (await post(`${floor.url}/token`, { refresh_token: floorTokens[loop] })).refresh_token;
        }, load),
      // The database's share alone: the floor's statement from this process, no HTTP, no signature.
      statement: () =>
        runLoad(async (loop) => {
          const next = crypto.randomBytes(32).toString('base64url');
          const { rows } = await pool.query({
            name: 'floor_rotation',
            text: ROTATION,
            values: [sha(statementTokens[loop] as string), sha(next), seal(next)],
          });
          if (!rows[0]) throw new Error('statement: token not rotated');
          statementTokens[loop] = next;
        }, load),
    };
    type Name = keyof typeof scenarios;
    const names = Object.keys(scenarios) as Name[];
    // Each figure and its floors take turns, round after round, so that a machine whose load
    // drifts (a shared one) slows them alike; each figure is the median of its rounds.
    const runs: Record<Name, LoadResult[]> = { refresh: [], floor: [], statement: [] };
    // CPU seconds of each process per scenario, with the operations that spent them (warm-up
    // included). The floor's server is "server" in its own runs.
    const postmaster = postmasterPid(dir);
    const cpu: Record<Name, CpuSplit[]> = { refresh: [], floor: [], statement: [] };
    const serverOf = (name: Name) => (name === 'floor' ? (floor.child.pid ?? 0) : pid);
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of names) {
        const before = cpuNow(serverOf(name), postmaster);
        const result = await scenarios[name]();
        const ops = result.perSecond * (load.seconds + 1);
        runs[name].push(result);
        cpu[name].push(cpuPerOp(before, cpuNow(serverOf(name), postmaster), ops));
      }
    }
    await pool.end();
    agent.destroy();
    floor.child.kill();
    const [refresh, floorRun, statement] = names.map((name) => medianResult(runs[name])) as [
      LoadResult,
      LoadResult,
      LoadResult,
    ];
    for (const [name, r] of [
      ['floor', floorRun],
      ['statement', statement],
    ] as const)
      if (r.errors > 0) throw new Error(`the refresh ${name} failed ${r.errors} times: it measured nothing`);

    const row = (what: string, r: LoadResult, against: LoadResult) =>
      `| ${what} | ${r.perSecond.toFixed(0)}/s | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.errors} | ${(r.perSecond / against.perSecond).toFixed(2)} |`;
    const labels: Record<Name, string> = {
      refresh: 'refresh grant through Trellis',
      floor: 'floor: the grant by node:http + one `pg` statement',
      statement: "the floor's statement alone, from the load generator (no HTTP)",
    };
    const table = [
      '| Operation | Throughput | p50 | p99 | Errors | Ratio to the floor |',
      '| --- | --- | --- | --- | --- | --- |',
      row(`${labels.refresh} (\`POST /token?grant_type=refresh_token\`)`, refresh, floorRun),
      row(labels.floor, floorRun, floorRun),
      row(labels.statement, statement, floorRun),
      '',
      'CPU per operation (milliseconds, medians of the rounds; warm-up included):',
      '',
      '| Run | Load generator (this process) | Server (Trellis or the floor) | PostgreSQL (all backends) | All |',
      '| --- | --- | --- | --- | --- |',
      ...names.map((name) => {
        const c = medianCpu(cpu[name]);
        const server = name === 'statement' ? 0 : c.server;
        return `| ${labels[name]} | ${c.generator.toFixed(2)} | ${name === 'statement' ? '–' : server.toFixed(2)} | ${c.postgres.toFixed(2)} | ${(c.generator + server + c.postgres).toFixed(2)} |`;
      }),
    ].join('\n');
    report(
      'auth',
      `\`npx tsx bench/auth.ts\` (${CONCURRENCY} concurrent clients; ${ROUNDS} rounds in which each figure and its floors take turns, ${SECONDS / ROUNDS} s each after 1 s warm-up, medians shown)`,
      table,
      values.write === true,
    );
  });
}

await main();
