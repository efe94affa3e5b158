/**
 * Refresh-token grants per second with p50/p99 through a started Trellis (embedded PostgreSQL),
 * beside their floor measured in the same run: the same rotation done by the thinnest code, plain
 * `pg`, one prepared statement per grant (lock the token and its session, revoke it, touch the session,
 * insert the child, read the user, its identities, factors and the session's methods), plus the
 * token hashing, sealing and the HS256 signature a grant cannot avoid, at the same concurrency, on
 * refresh tokens of their own. Password sign-ins are bench/auth-signin.ts's.
 *
 *   npx tsx bench/auth.ts [--seconds 8] [--concurrency 8] [--rounds 4] [--write]
 */
import { parseArgs } from 'node:util';
import crypto from 'node:crypto';
import http from 'node:http';
import { SignJWT } from 'jose';
import pg from 'pg';
import { report } from './report.js';
import { withBenchServer } from './server.js';
import { cpuNow, cpuPerOp, postmasterPid, type CpuSplit } from './cpu.js';
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

// The floor's rotation: what a grant must do to the database, in one statement.
const FLOOR_ROTATION = `
  with cur as (
    select rt.id as token_id, rt.session_id, s.user_id
    from auth.refresh_tokens rt join auth.sessions s on s.id = rt.session_id
    where rt.token = $1 and not rt.revoked for update of rt, s
  ), revoked as (
    update auth.refresh_tokens set revoked = true, sealed = null, updated_at = now() where id = (select token_id from cur)
  ), touched as (
    update auth.sessions set refreshed_at = now(), updated_at = now() where id = (select session_id from cur)
  ), child as (
    insert into auth.refresh_tokens (instance_id, token, user_id, parent, session_id, sealed)
    select '00000000-0000-0000-0000-000000000000', $2, user_id::text, $1, session_id, $3 from cur
  )
  select u.*, cur.session_id,
    (select json_agg(a) from auth.mfa_amr_claims a where a.session_id = cur.session_id) as amr,
    (select json_agg(i) from auth.identities i where i.user_id = u.id) as identities,
    (select json_agg(f) from auth.mfa_factors f where f.user_id = u.id) as factors
  from cur join auth.users u on u.id = cur.user_id`;

async function main() {
  const env = { AUTH_RATE_LIMIT_SIGN_IN: '1000000', AUTH_RATE_LIMIT_TOKEN_REFRESH: '1000000' };
  await withBenchServer({ env }, async ({ url, dbUrl, anonKey, pid, dir }) => {
    const headers = { apikey: anonKey, 'content-type': 'application/json' };
    // node:http with kept-alive sockets: about a third of fetch's CPU per request, so the load
    // generator, which shares the machine's cores, takes less from the server it measures.
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const post = (p: string, body: unknown) =>
      new Promise<{ refresh_token: string }>((resolve, reject) => {
        const payload = JSON.stringify(body);
        const req = http.request(
          `${url}/auth/v1${p}`,
          { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(payload) } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              if (res.statusCode !== 200) reject(new Error(`${p}: ${res.statusCode} ${text}`));
              else resolve(JSON.parse(text) as { refresh_token: string });
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(payload);
      });

    const users = Array.from({ length: CONCURRENCY }, (_, i) => ({
      email: `bench${i}@example.com`,
      password: `bench password ${i}`,
    }));
    const refreshTokens = await Promise.all(users.map(async (u) => (await post('/signup', u)).refresh_token));
    const floorTokens = await Promise.all(
      users.map(async (u) => (await post('/token?grant_type=password', u)).refresh_token),
    );

    const pool = new pg.Pool({ connectionString: dbUrl, max: CONCURRENCY });
    const secret = await crypto.subtle.importKey(
      'raw',
      crypto.randomBytes(32),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    );
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
            await post('/token?grant_type=refresh_token', { refresh_token: refreshTokens[loop] })
          ).refresh_token;
        }, load),
      // Floor: the rotation in one statement, with the hashing, sealing and signing it needs.
      rotation: () =>
        runLoad(async (loop) => {
          const next = crypto.randomBytes(32).toString('base64url');
          // A named statement: each connection parses and plans it once.
          const { rows } = await pool.query<{ id: string; session_id: string; email: string; amr: unknown }>({
            name: 'floor_rotation',
            text: FLOOR_ROTATION,
            values: [sha(floorTokens[loop] as string), sha(next), seal(next)],
          });
          const row = rows[0];
          if (!row) throw new Error('floor: token not rotated');
          await new SignJWT({ role: 'authenticated', email: row.email, session_id: row.session_id, amr: row.amr })
            .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
            .setSubject(row.id)
            .setIssuedAt()
            .setExpirationTime('1h')
            .sign(secret);
          floorTokens[loop] = next;
        }, load),
    };
    // Each figure and its floor take turns, round after round, so that a machine whose load
    // drifts (a shared one) slows both alike; each figure is the median of its rounds.
    const runs: Record<keyof typeof scenarios, LoadResult[]> = { refresh: [], rotation: [] };
    // CPU seconds of each process per scenario, with the operations that spent them (warm-up included).
    const postmaster = postmasterPid(dir);
    const cpu = { refresh: [] as CpuSplit[], rotation: [] as CpuSplit[] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of Object.keys(scenarios) as (keyof typeof scenarios)[]) {
        const before = cpuNow(pid, postmaster);
        const result = await scenarios[name]();
        const ops = result.perSecond * (load.seconds + 1);
        runs[name].push(result);
        cpu[name].push(cpuPerOp(before, cpuNow(pid, postmaster), ops));
      }
    }
    const medianCpu = (splits: CpuSplit[]): CpuSplit => {
      const mid = (pick: (c: CpuSplit) => number) => splits.map(pick).sort((a, b) => a - b)[splits.length >> 1] ?? NaN;
      return { generator: mid((c) => c.generator), server: mid((c) => c.server), postgres: mid((c) => c.postgres) };
    };
    await pool.end();
    agent.destroy();
    const [refresh, rotation] = (['refresh', 'rotation'] as const).map((name) => medianResult(runs[name])) as [
      LoadResult,
      LoadResult,
    ];
    if (rotation.errors > 0) throw new Error(`the refresh floor failed ${rotation.errors} times: it measured nothing`);

    const row = (what: string, r: LoadResult, floor: LoadResult, floorName: string) =>
      `| ${what} | ${r.perSecond.toFixed(0)}/s | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.errors} | ${floor.perSecond.toFixed(0)}/s (${floorName}) | ${(r.perSecond / floor.perSecond).toFixed(2)} |`;
    const table = [
      '| Operation | Throughput | p50 | p99 | Errors | Floor | Ratio |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      row(
        'refresh-token grant (`POST /token?grant_type=refresh_token`)',
        refresh,
        rotation,
        'the rotation in one `pg` statement',
      ),
      '',
      'CPU per operation (milliseconds, medians of the rounds; warm-up included):',
      '',
      '| Run | Load generator (this process) | Trellis (Node.js) | PostgreSQL (all backends) |',
      '| --- | --- | --- | --- |',
      ...(['refresh', 'rotation'] as const).map((name) => {
        const c = medianCpu(cpu[name]);
        const label = name === 'refresh' ? 'refresh grant through Trellis' : 'floor';
        return `| ${label} | ${c.generator.toFixed(2)} | ${name === 'refresh' ? c.server.toFixed(2) : '–'} | ${c.postgres.toFixed(2)} |`;
      }),
    ].join('\n');
    report(
      'auth',
      `\`npx tsx bench/auth.ts\` (${CONCURRENCY} concurrent clients; ${ROUNDS} rounds in which each figure and its floor take turns, ${SECONDS / ROUNDS} s each after 1 s warm-up, medians shown)`,
      table,
      values.write === true,
    );
  });
}

await main();
