/**
 * Password sign-in (issue 15 item 8), through a started Trellis:
 * - timing: does a sign-in with an unknown email take as long as one with a wrong password? N of
 *   each, interleaved, one at a time; medians and the gap between them;
 * - throughput: sign-ins per second of an argon2id user and of imported bcrypt users, each beside
 *   its floor, the same hash work done directly at the same concurrency in this process. A bcrypt
 *   user's first sign-in replaces the hash with argon2id, so every bcrypt sign-in is a fresh imported
 *   user (created beforehand through `POST /admin/users` with `password_hash`), and its floor is
 *   what such a sign-in cannot avoid: one bcrypt verification and one argon2id hash.
 *
 *   npx tsx bench/auth-signin.ts [--n 50] [--seconds 2] [--rounds 3] [--concurrency 4] [--write]
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { hash as argon2Hash, verify as argon2Verify, Algorithm } from '@node-rs/argon2';
import { hash as bcryptHash, verify as bcryptVerify } from '@node-rs/bcrypt';
import { signApiKeys } from '../src/project/secrets.js';
import { jsonPoster } from './http-json.js';
import { report } from './report.js';
import { withBenchServer } from './server.js';
import { cpuNow, cpuPerOp, medianCpu, postmasterPid, type CpuSplit } from './cpu.js';
import { medianResult, runLoad, type LoadResult } from './stats.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '4' },
    write: { type: 'boolean', default: false },
  },
});
const N = Number(values.n);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);
// GoTrue's bcrypt cost (bcrypt.DefaultCost), what a Supabase dump's hashes carry.
const BCRYPT_COST = 10;
const ARGON2 = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const env = {
  AUTH_RATE_LIMIT_TOKEN_PASSWORD: '1000000',
  AUTH_RATE_LIMIT_SIGN_IN: '1000000',
  // Wrong passwords must all be checked: past the per-account limit they are refused unchecked.
  AUTH_RATE_LIMIT_PASSWORD_FAILURES: '1000000',
};

await withBenchServer({ env }, async ({ url, anonKey, jwtSecret, pid, dir }) => {
  const { serviceRoleKey } = await signApiKeys(jwtSecret);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });
  const post = jsonPoster(agent, { apikey: anonKey });
  const signIn = async (email: string, password: string, expect: number) => {
    const { status } = await post(`${url}/auth/v1/token?grant_type=password`, { email, password });
    if (status !== expect) throw new Error(`sign-in ${email}: ${status}, expected ${expect}`);
  };
  const createUser = async (body: Record<string, unknown>) => {
    const r = await fetch(`${url}/auth/v1/admin/users`, {
      method: 'POST',
      headers: {
        apikey: serviceRoleKey,
        authorization: `Bearer ${serviceRoleKey}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ email_confirm: true, ...body }),
    });
    if (!r.ok) throw new Error(`create user: ${r.status} ${await r.text()}`);
  };

  await createUser({ email: 'argon@example.com', password: 'argon2 password' });
  // One user per client loop, as in bench/auth.ts: concurrent sign-ins of one user would queue on its row.
  for (let i = 0; i < CONCURRENCY; i++)
    await createUser({ email: `argon${i}@example.com`, password: 'argon2 password' });
  const bcryptStored = await bcryptHash('bcrypt password', BCRYPT_COST);
  await createUser({ email: 'bcrypt-timing@example.com', password_hash: bcryptStored });

  // Timing: unknown address vs wrong password, interleaved so drift hits both alike.
  const timed = { unknown: [] as number[], wrong: [] as number[], wrongBcrypt: [] as number[] };
  const time = async (list: number[], email: string, password: string) => {
    const started = performance.now();
    await signIn(email, password, 400);
    list.push(performance.now() - started);
  };
  for (let i = 0; i < 5; i++) await time([], `warm${i}@example.com`, 'x');
  for (let i = 0; i < N; i++) {
    await time(timed.unknown, `nobody${i}@example.com`, 'not the password');
    await time(timed.wrong, 'argon@example.com', 'not the password');
    await time(timed.wrongBcrypt, 'bcrypt-timing@example.com', 'not the password');
  }

  // Throughput of right passwords, in rounds alternating with their floors (a shared machine's
  // speed drifts; both sides of a ratio should see the same drift).
  const load = { concurrency: CONCURRENCY, seconds: SECONDS };
  const bcryptUsers = Math.ceil(ROUNDS * (SECONDS + 1) * 50);
  for (let i = 0; i < bcryptUsers; i += 8)
    await Promise.all(
      Array.from({ length: Math.min(8, bcryptUsers - i) }, (_, j) =>
        createUser({ email: `imported${i + j}@example.com`, password_hash: bcryptStored }),
      ),
    );
  let nextBcrypt = 0;
  const argonStored = await argon2Hash('argon2 password', ARGON2);
  const runs = {
    argon: [] as LoadResult[],
    argonFloor: [] as LoadResult[],
    bcrypt: [] as LoadResult[],
    bcryptFloor: [] as LoadResult[],
  };
  // CPU per operation of each process (warm-up included), for the argon2id runs.
  const postmaster = postmasterPid(dir);
  const cpu = { argon: [] as CpuSplit[], argonFloor: [] as CpuSplit[] };
  const measured = async (name: keyof typeof cpu, run: () => Promise<LoadResult>) => {
    const before = cpuNow(pid, postmaster);
    const result = await run();
    cpu[name].push(cpuPerOp(before, cpuNow(pid, postmaster), result.perSecond * (SECONDS + 1)));
    return result;
  };
  for (let round = 0; round < ROUNDS; round++) {
    runs.argon.push(
      await measured('argon', () =>
        runLoad((loop) => signIn(`argon${loop}@example.com`, 'argon2 password', 200), load),
      ),
    );
    runs.argonFloor.push(
      await measured('argonFloor', () =>
        runLoad(async () => void (await argon2Verify(argonStored, 'argon2 password')), load),
      ),
    );
    runs.bcrypt.push(
      await runLoad(() => signIn(`imported${nextBcrypt++}@example.com`, 'bcrypt password', 200), {
        ...load,
        maxOps: Math.floor(bcryptUsers / ROUNDS / 2),
      }),
    );
    runs.bcryptFloor.push(
      await runLoad(async () => {
        await bcryptVerify('bcrypt password', bcryptStored);
        await argon2Hash('bcrypt password', ARGON2);
      }, load),
    );
    process.stderr.write(
      `round ${round + 1}/${ROUNDS}: argon2id ${runs.argon.at(-1)?.perSecond.toFixed(0)}/s, bcrypt ${runs.bcrypt.at(-1)?.perSecond.toFixed(0)}/s\n`,
    );
  }
  const [argonSignIns, argonFloor, bcryptSignIns, bcryptFloor] = [
    medianResult(runs.argon),
    medianResult(runs.argonFloor),
    medianResult(runs.bcrypt),
    medianResult(runs.bcryptFloor),
  ];

  const [unknown, wrong, wrongBcrypt] = [median(timed.unknown), median(timed.wrong), median(timed.wrongBcrypt)];
  const gap = (a: number, b: number) => `${(b - a).toFixed(1)} ms (${(((b - a) / a) * 100).toFixed(0)} %)`;
  const row = (what: string, r: LoadResult, floor: LoadResult, floorName: string) =>
    `| ${what} | ${r.perSecond.toFixed(0)}/s | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.errors} | ${floor.perSecond.toFixed(0)}/s (${floorName}) | ${(r.perSecond / floor.perSecond).toFixed(2)} |`;
  const table = [
    `| Failed sign-in (N=${N} each, one at a time) | Median | Gap to an unknown address |`,
    '| --- | --- | --- |',
    `| unknown address | ${unknown.toFixed(1)} ms | |`,
    `| wrong password, argon2id user | ${wrong.toFixed(1)} ms | ${gap(unknown, wrong)} |`,
    `| wrong password, imported bcrypt user (cost ${BCRYPT_COST}, before its first sign-in) | ${wrongBcrypt.toFixed(1)} ms | ${gap(unknown, wrongBcrypt)} |`,
    '',
    '| Successful sign-in | Throughput | p50 | p99 | Errors | Floor | Ratio |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    row('argon2id user', argonSignIns, argonFloor, 'argon2id verify alone'),
    row(
      `imported bcrypt user, first sign-in (rehashed)`,
      bcryptSignIns,
      bcryptFloor,
      `bcrypt verify + argon2id hash alone`,
    ),
    '',
    'CPU per argon2id sign-in (milliseconds, medians of the rounds; warm-up included):',
    '',
    '| Run | Load generator (this process) | Trellis (Node.js) | PostgreSQL (all backends) | All |',
    '| --- | --- | --- | --- | --- |',
    ...(['argon', 'argonFloor'] as const).map((name) => {
      const { generator: g, server: t, postgres: p } = medianCpu(cpu[name]);
      return name === 'argon'
        ? `| sign-in through Trellis | ${g.toFixed(2)} | ${t.toFixed(2)} | ${p.toFixed(2)} | ${(g + t + p).toFixed(2)} |`
        : `| floor: argon2id verify alone | ${g.toFixed(2)} | – | – | ${g.toFixed(2)} |`;
    }),
  ].join('\n');
  agent.destroy();
  report(
    'auth-signin',
    `\`npx tsx bench/auth-signin.ts\` (${CONCURRENCY} concurrent clients, ${ROUNDS} rounds of ${SECONDS} s each after 1 s warm-up, alternating with the floors, medians; argon2id m=19 MiB, t=2, p=1; bcrypt cost ${BCRYPT_COST})`,
    table,
    values.write === true,
  );
});
