/**
 * What AUTH_SESSION_CHECK_SECONDS costs (issue 12 item 8): the data API's "latest 50 messages"
 * read through two Trellis servers on the same schema and data, one with the session check off
 * (Supabase's behaviour, the floor here: the same work without the check) and one with it on
 * (5 s cache), with 100 signed-in users taking turns so each request carries another session.
 *
 *   npx tsx bench/session-check.ts [--seconds 3] [--rounds 3] [--concurrency 8] [--write]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { report } from './report.js';
import { ROOT, withBenchServer, type BenchServer } from './server.js';
import { medianResult, runLoad, type LoadResult } from './stats.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '8' },
    users: { type: 'string', default: '100' },
    write: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const USERS = Number(values.users);

const migrations = {
  '20240101000000_chat.sql': path.join(ROOT, 'examples', 'chat', 'supabase', 'migrations', '20240101000000_chat.sql'),
  '20240101000001_rest_only.sql': path.join(ROOT, 'bench', 'fixtures', 'rest-only.sql'),
};

/** Signs up USERS users in one room of 1,000 messages; returns a request that reads it as the next user. */
async function prepare(server: BenchServer): Promise<() => Promise<void>> {
  const pool = new pg.Pool({ connectionString: server.dbUrl, max: 4 });
  const room = (await pool.query<{ id: string }>(`insert into public.rooms (name) values ('bench') returning id`))
    .rows[0]?.id;
  const tokens: string[] = [];
  for (let i = 0; i < USERS; i++) {
    const r = await fetch(`${server.url}/auth/v1/signup`, {
      method: 'POST',
      headers: { apikey: server.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify({ email: `user${i}@example.com`, password: 'bench password' }),
    });
    const session = (await r.json()) as { access_token: string; user: { id: string } };
    await pool.query('insert into public.members (room_id, user_id) values ($1, $2)', [room, session.user.id]);
    tokens.push(session.access_token);
  }
  await pool.query(
    `insert into public.messages (room_id, author_id, body) select $1, (select user_id from public.members limit 1), 'message ' || g from generate_series(1, 1000) g`,
    [room],
  );
  await pool.query('analyze');
  await pool.end();
  const latest = `${server.url}/rest/v1/messages?select=id,body,author_id,created_at&room_id=eq.${room}&order=id.desc&limit=50`;
  let next = 0;
  return async () => {
    const token = tokens[next++ % tokens.length] ?? '';
    const r = await fetch(latest, { headers: { apikey: server.anonKey, authorization: `Bearer ${token}` } });
    if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
    await r.arrayBuffer();
  };
}

const env = { AUTH_RATE_LIMIT_SIGN_IN: '1000000' };
await withBenchServer({ env, migrations }, async (off) =>
  withBenchServer({ env: { ...env, AUTH_SESSION_CHECK_SECONDS: '5' }, migrations }, async (on) => {
    const scenarios = { off: await prepare(off), on: await prepare(on) };
    const results: Record<keyof typeof scenarios, LoadResult[]> = { off: [], on: [] };
    const load = { concurrency: Number(values.concurrency), seconds: SECONDS };
    // Alternating rounds, so drift in a shared machine's speed hits both alike.
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of ['off', 'on'] as const) {
        results[name].push(await runLoad(scenarios[name], load));
        process.stderr.write(`round ${round + 1}/${ROUNDS} ${name}: ${results[name].at(-1)?.perSecond.toFixed(0)}/s\n`);
      }
    }
    const [a, b] = [medianResult(results.off), medianResult(results.on)];
    const row = (what: string, r: LoadResult) =>
      `| ${what} | ${r.perSecond.toFixed(0)}/s | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.errors} | ${(r.perSecond / a.perSecond).toFixed(2)} |`;
    const table = [
      '| Latest 50 messages, a different session each request | Throughput | p50 | p99 | Errors | Ratio to the check off |',
      '| --- | --- | --- | --- | --- | --- |',
      row('session check off (as on Supabase)', a),
      row('`AUTH_SESSION_CHECK_SECONDS=5`', b),
    ].join('\n');
    report(
      'session-check',
      `\`npx tsx bench/session-check.ts\` (${values.concurrency} concurrent clients, ${USERS} users in turn; ${ROUNDS} alternating rounds of ${SECONDS} s, medians)`,
      table,
      values.write === true,
    );
  }),
);
