/**
 * Data API throughput (issue 4) on the chat schema, through a started Trellis (embedded
 * PostgreSQL): "latest 50 messages of a room" and "insert one message", each beside its floor, in
 * the same run: src/capacity/floor-server.ts (the floor `trellis bench crud` uses), a minimal
 * node:http handler sending the same SQL with the same SET LOCAL role and claims through the same
 * driver, here with pg used plainly (its /sequential/ routes). Target: Trellis ≥ 0.8 × floor.
 * A second floor sends those statements pipelined in one write, as Trellis does: the ratio to it is
 * the cost of Trellis's HTTP, auth, parsing and planning alone.
 *
 *   npx tsx bench/rest.ts [--seconds 4] [--rounds 3] [--concurrency 8] [--write]
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { decodeJwt } from 'jose';
import pg from 'pg';
import { report } from './report.js';
import { ROOT, withBenchServer } from './server.js';
import { medianResult, runLoad, type LoadResult } from './stats.js';
import { cpuNow, cpuPerOp, medianCpu, postmasterPid, type CpuSplit } from './cpu.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '8' },
    write: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);

async function main() {
  // The chat app's schema (the one chat fixture), and messages out of the realtime publication:
  // this measures the data API alone, without the WAL reader sharing the server's CPU.
  const migrations = {
    '20240101000000_chat.sql': path.join(ROOT, 'examples', 'chat', 'supabase', 'migrations', '20240101000000_chat.sql'),
    '20240101000001_rest_only.sql': path.join(ROOT, 'bench', 'fixtures', 'rest-only.sql'),
  };
  await withBenchServer(
    { env: { AUTH_RATE_LIMIT_SIGN_IN: '1000000' }, migrations },
    async ({ url, dbUrl, anonKey, pid, dir }) => {
      const signup = await fetch(`${url}/auth/v1/signup`, {
        method: 'POST',
        headers: { apikey: anonKey, 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'bench@example.com', password: 'bench password' }),
      });
      const session = (await signup.json()) as { access_token: string; user: { id: string } };
      const token = session.access_token;
      const claims = decodeJwt(token);

      // Seed as the database owner: one room of 10,000 messages the user is a member of.
      const pool = new pg.Pool({ connectionString: dbUrl, max: 10 });
      const room = (await pool.query<{ id: string }>(`insert into public.rooms (name) values ('bench') returning id`))
        .rows[0]?.id;
      await pool.query('insert into public.members (room_id, user_id) values ($1, $2)', [room, session.user.id]);
      await pool.query(
        `insert into public.messages (room_id, author_id, body) select $1, $2, 'message ' || g from generate_series(1, 10000) g`,
        [room, session.user.id],
      );
      await pool.query('analyze');

      const headers = { apikey: anonKey, authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const latestUrl = `${url}/rest/v1/messages?select=id,body,author_id,created_at&room_id=eq.${room}&order=id.desc&limit=50`;
      const ok = async (r: Response) => {
        if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
        await r.arrayBuffer();
      };
      // The statements as Trellis names and prepares them; the JSON body is built by PostgreSQL.
      const statements = {
        latest: `select coalesce(json_agg(m), '[]'::json)::text as body from (select id, body, author_id, created_at from public.messages where room_id = $1 order by id desc limit 50) m`,
        insert: `insert into public.messages (room_id, body) select room_id, body from json_populate_record(null::public.messages, $1::json)`,
      };
      const floor = fork(
        path.join(ROOT, 'dist', 'capacity', 'floor-server.js'),
        [dbUrl, JSON.stringify(statements), '10'],
        { stdio: 'ignore' },
      );
      const floorPort = await new Promise<number>((resolve) =>
        floor.once('message', (m) => resolve((m as { port: number }).port)),
      );
      const floorUrl = `http://127.0.0.1:${floorPort}`;
      const floorCall = async (route: string, values: unknown[]) =>
        ok(
          await fetch(`${floorUrl}/${route}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ claims, values }),
          }),
        );
      const message = JSON.stringify({ room_id: room, body: 'hello' });
      const load = { concurrency: CONCURRENCY, seconds: SECONDS };
      const scenarios = {
        trellisRead: async () => ok(await fetch(latestUrl, { headers })),
        floorRead: () => floorCall('sequential/latest', [room]),
        pipelinedRead: () => floorCall('latest', [room]),
        trellisInsert: async () =>
          ok(
            await fetch(`${url}/rest/v1/messages`, {
              method: 'POST',
              headers,
              body: JSON.stringify({ room_id: room, body: 'hello' }),
            }),
          ),
        floorInsert: () => floorCall('sequential/insert', [message]),
        pipelinedInsert: () => floorCall('insert', [message]),
      };
      // Rounds alternate Trellis and floor, so drift in a shared machine's speed hits both alike;
      // each figure is the median over the rounds.
      const names = Object.keys(scenarios) as (keyof typeof scenarios)[];
      const perScenario = <T>() =>
        Object.fromEntries(names.map((n) => [n, [] as T[]])) as Record<keyof typeof scenarios, T[]>;
      const results = perScenario<LoadResult>();
      // CPU per request of the server that answered (Trellis or the floor), PostgreSQL and the load
      // generator, around each run (its warm-up second included).
      const postmaster = postmasterPid(dir);
      const cpu = perScenario<CpuSplit>();
      try {
        for (let round = 0; round < ROUNDS; round++) {
          for (const name of names) {
            const serverPid = name.startsWith('trellis') ? pid : (floor.pid ?? 0);
            const before = cpuNow(serverPid, postmaster);
            const result = await runLoad(scenarios[name], load);
            cpu[name].push(cpuPerOp(before, cpuNow(serverPid, postmaster), result.perSecond * (SECONDS + 1)));
            results[name].push(result);
            process.stderr.write(
              `round ${round + 1}/${ROUNDS} ${name}: ${results[name].at(-1)?.perSecond.toFixed(0)}/s\n`,
            );
          }
        }
      } finally {
        floor.kill();
      }
      await pool.end();

      const m = (name: keyof typeof scenarios) => medianResult(results[name]);
      const row = (what: string, r: LoadResult, floor: LoadResult, pipelined: LoadResult) =>
        `| ${what} | ${r.perSecond.toFixed(0)}/s | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.errors} | ${floor.perSecond.toFixed(0)}/s, p99 ${floor.p99.toFixed(1)} ms | **${(r.perSecond / floor.perSecond).toFixed(2)}** | ${pipelined.perSecond.toFixed(0)}/s, p99 ${pipelined.p99.toFixed(1)} ms | ${(r.perSecond / pipelined.perSecond).toFixed(2)} |`;
      const table = [
        '| Operation | Through Trellis | p50 | p99 | Errors | Floor: minimal node:http + pg, same SQL and claims | Ratio | Floor, pipelined as Trellis sends it | Ratio |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
        row(
          'latest 50 messages of a room (`GET /rest/v1/messages?…&order=id.desc&limit=50`)',
          m('trellisRead'),
          m('floorRead'),
          m('pipelinedRead'),
        ),
        row(
          'insert one message (`POST /rest/v1/messages`)',
          m('trellisInsert'),
          m('floorInsert'),
          m('pipelinedInsert'),
        ),
        '',
        'CPU per request (milliseconds, medians of the rounds; warm-up included): the server that answered, PostgreSQL, their sum, and the load generator:',
        '',
        '| Run | Server (Node.js) | PostgreSQL | Server + PostgreSQL | Load generator |',
        '| --- | --- | --- | --- | --- |',
        ...(
          [
            ['read through Trellis', 'trellisRead'],
            ['read, floor', 'floorRead'],
            ['read, pipelined floor', 'pipelinedRead'],
            ['insert through Trellis', 'trellisInsert'],
            ['insert, floor', 'floorInsert'],
            ['insert, pipelined floor', 'pipelinedInsert'],
          ] as const
        ).map(([what, name]) => {
          const { server, postgres, generator } = medianCpu(cpu[name]);
          return `| ${what} | ${server.toFixed(3)} | ${postgres.toFixed(3)} | ${(server + postgres).toFixed(3)} | ${generator.toFixed(3)} |`;
        }),
      ].join('\n');
      report(
        'rest',
        `\`npx tsx bench/rest.ts\` (${CONCURRENCY} concurrent clients; ${ROUNDS} alternating rounds of ${SECONDS} s after 1 s warm-up, medians; 10,000 messages in the room; RLS through a membership check)`,
        table,
        values.write === true,
      );
    },
  );
}

await main();
