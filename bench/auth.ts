/**
 * Auth throughput (issue 3): password sign-ins and refresh-token grants per second with p50/p99,
 * through a started Trellis (embedded PostgreSQL), each beside its floor measured in the same run:
 * - sign-in: the argon2id verifications per second the same cores do with the same parameters
 *   (the hash is the cost a sign-in cannot avoid);
 * - refresh: bare `pg` round trips (`select 1`) per second at the same concurrency.
 *
 *   npx tsx bench/auth.ts [--seconds 8] [--concurrency 8] [--write]
 */
import { parseArgs } from 'node:util';
import { hash, verify, Algorithm } from '@node-rs/argon2';
import pg from 'pg';
import { report } from './report.js';
import { withBenchServer } from './server.js';
import { runLoad, type LoadResult } from './stats.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '8' },
    write: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);

async function main() {
  const env = { AUTH_RATE_LIMIT_SIGN_IN: '1000000', AUTH_RATE_LIMIT_TOKEN_REFRESH: '1000000' };
  await withBenchServer({ env }, async ({ url, dbUrl, anonKey }) => {
    const headers = { apikey: anonKey, 'content-type': 'application/json' };
    const post = async (p: string, body: unknown) => {
      const r = await fetch(`${url}/auth/v1${p}`, { method: 'POST', headers, body: JSON.stringify(body) });
      if (!r.ok) throw new Error(`${p}: ${r.status} ${await r.text()}`);
      return (await r.json()) as { refresh_token: string };
    };

    const users = Array.from({ length: CONCURRENCY }, (_, i) => ({
      email: `bench${i}@example.com`,
      password: `bench password ${i}`,
    }));
    const refreshTokens = await Promise.all(users.map(async (u) => (await post('/signup', u)).refresh_token));

    const signIn = await runLoad(async (loop) => void (await post('/token?grant_type=password', users[loop])), {
      concurrency: CONCURRENCY,
      seconds: SECONDS,
    });
    const refresh = await runLoad(
      async (loop) => {
        refreshTokens[loop] = (
          await post('/token?grant_type=refresh_token', { refresh_token: refreshTokens[loop] })
        ).refresh_token;
      },
      { concurrency: CONCURRENCY, seconds: SECONDS },
    );

    // Floors, same run, same machine.
    const params = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
    const stored = await hash('bench password', params);
    const argon = await runLoad(async () => void (await verify(stored, 'bench password')), {
      concurrency: CONCURRENCY,
      seconds: SECONDS,
    });
    const pool = new pg.Pool({ connectionString: dbUrl, max: 10 });
    const roundTrip = await runLoad(async () => void (await pool.query('select 1')), {
      concurrency: CONCURRENCY,
      seconds: SECONDS,
    });
    await pool.end();

    const row = (what: string, r: LoadResult, floor: LoadResult, floorName: string) =>
      `| ${what} | ${r.perSecond.toFixed(0)}/s | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.errors} | ${floor.perSecond.toFixed(0)}/s (${floorName}) | ${(r.perSecond / floor.perSecond).toFixed(2)} |`;
    const table = [
      '| Operation | Throughput | p50 | p99 | Errors | Floor | Ratio |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      row('password sign-in (`POST /token?grant_type=password`)', signIn, argon, 'argon2id verify alone'),
      row('refresh-token grant (`POST /token?grant_type=refresh_token`)', refresh, roundTrip, 'bare `pg` `select 1`'),
    ].join('\n');
    report(
      'auth',
      `\`npx tsx bench/auth.ts\` (${CONCURRENCY} concurrent clients, ${SECONDS} s each, after 1 s warm-up; argon2id m=19 MiB, t=2, p=1)`,
      table,
      values.write === true,
    );
  });
}

await main();
