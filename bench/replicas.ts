/**
 * Read replicas (issue 16): REST read throughput through a Trellis on the primary alone, and through
 * one with DATABASE_READ_URL on a streaming standby of it, in the same run and on the same data.
 * The primary and its standby are PostgreSQL clusters of this run (PG_BIN_DIR, default
 * /usr/lib/postgresql/15/bin; `pg_basebackup -R`), both on this machine: on a small box the standby
 * competes for the same cores, so the ratio here says what routing costs, not what a replica on a
 * machine of its own adds. Each row also counts where the transactions ran (pg_stat_database).
 *
 *   npx tsx bench/replicas.ts [--seconds 3] [--rounds 2] [--concurrency 8] [--write]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { freePort } from '../src/platform/net.js';
import { report } from './report.js';
import { withBenchServer } from './server.js';
import { medianResult, runLoad, type LoadResult } from './stats.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '8' },
    write: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);
const BIN = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';

/** Runs a PostgreSQL tool, as the postgres user when this is root (PostgreSQL refuses root). */
function pgTool(tool: string, args: string[]): void {
  const root = process.getuid?.() === 0;
  const [cmd, argv] = root
    ? ['runuser', ['-u', 'postgres', '--', path.join(BIN, tool), ...args]]
    : [path.join(BIN, tool), args];
  const result = spawnSync(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: os.tmpdir() });
  if (result.status !== 0) throw new Error(`${tool} failed: ${String(result.stderr)}`);
}

async function cluster(root: string, name: string, from?: number) {
  const dir = path.join(root, name);
  const port = await freePort();
  if (from === undefined)
    pgTool('initdb', [`--pgdata=${dir}`, '--username=postgres', '--auth=trust', '--no-instructions']);
  else
    pgTool('pg_basebackup', ['-D', dir, '-R', '-X', 'stream', '-h', '127.0.0.1', '-p', String(from), '-U', 'postgres']);
  const options = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories='' -c wal_level=logical -c max_wal_senders=10 -c hot_standby_feedback=on`;
  pgTool('pg_ctl', ['start', '-D', dir, '-w', '-s', '-l', path.join(root, `${name}.log`), '-o', options]);
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => pgTool('pg_ctl', ['stop', '-D', dir, '-m', 'immediate', '-s']),
  };
}

const commits = async (url: string) => {
  const client = new pg.Client(url);
  await client.connect();
  const n = Number(
    (await client.query<{ n: string }>("select xact_commit as n from pg_stat_database where datname = 'postgres'"))
      .rows[0]?.n,
  );
  await client.end();
  return n;
};

const MIGRATION = `create table public.notes (id serial primary key, body text not null, created_at timestamptz default now());
alter table public.notes enable row level security;
create policy "anyone reads" on public.notes for select using (true);
create policy "users write" on public.notes for insert to authenticated with check (true);
grant select on public.notes to anon, authenticated;
grant insert on public.notes to authenticated;
grant usage on sequence public.notes_id_seq to authenticated;
insert into public.notes (body) select 'note ' || g from generate_series(1, 10000) g;`;

const READS = 'anon reads 20 rows of 10,000';
const WRITE_THEN_READ = 'a user writes, then reads the latest 20 (fenced)';

async function main() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-replicas-'));
  fs.chmodSync(root, 0o777);
  const migration = path.join(root, 'notes.sql');
  fs.writeFileSync(migration, MIGRATION);
  const primary = await cluster(root, 'primary');
  const rows: string[] = [];
  try {
    const standby = await cluster(root, 'standby', primary.port);
    try {
      const results: Record<string, LoadResult> = {};
      for (const [label, env] of [
        ['primary only', { DATABASE_URL: primary.url }],
        ['one replica', { DATABASE_URL: primary.url, DATABASE_READ_URL: standby.url }],
      ] as const) {
        await withBenchServer(
          { env: { ...env }, migrations: { '20240101000000_notes.sql': migration } },
          async ({ url, anonKey }) => {
            const read = async () => {
              const res = await fetch(`${url}/rest/v1/notes?select=id,body&order=id.desc&limit=20`, {
                headers: { apikey: anonKey },
              });
              if (res.status !== 200) throw new Error(`status ${res.status}`);
              await res.arrayBuffer();
            };
            // The replica must have replayed the seed and be probed healthy before the load starts.
            for (let i = 0; i < 100 && label === 'one replica'; i++) {
              const ready = (await (await fetch(`${url}/ready`)).json()) as { replicas?: { state: string }[] };
              if (ready.replicas?.[0]?.state === 'healthy') break;
              await new Promise((r) => setTimeout(r, 100));
            }
            // A signed-in user who writes a note and reads the latest ones back, over and over: every
            // read is fenced at the write before it (read-your-writes), so it waits for the replica.
            const signup = await fetch(`${url}/auth/v1/signup`, {
              method: 'POST',
              headers: { apikey: anonKey, 'content-type': 'application/json' },
              body: JSON.stringify({
                email: `bench-${label.replace(' ', '-')}@example.com`,
                password: 'bench password',
              }),
            });
            const token = ((await signup.json()) as { access_token: string }).access_token;
            const user = { apikey: anonKey, authorization: `Bearer ${token}` };
            const writeThenRead = async () => {
              const written = await fetch(`${url}/rest/v1/notes`, {
                method: 'POST',
                headers: { ...user, 'content-type': 'application/json' },
                body: '{"body":"bench"}',
              });
              if (written.status !== 201) throw new Error(`status ${written.status}`);
              const res = await fetch(`${url}/rest/v1/notes?select=id,body&order=id.desc&limit=20`, { headers: user });
              if (res.status !== 200) throw new Error(`status ${res.status}`);
              await res.arrayBuffer();
            };
            for (const [scenario, op] of [
              [READS, read],
              [WRITE_THEN_READ, writeThenRead],
            ] as const) {
              const before = [await commits(primary.url), await commits(standby.url)];
              const runs: LoadResult[] = [];
              for (let round = 0; round < ROUNDS; round++)
                runs.push(await runLoad(op, { concurrency: CONCURRENCY, seconds: SECONDS }));
              const after = [await commits(primary.url), await commits(standby.url)];
              const result = medianResult(runs);
              results[`${scenario}|${label}`] = result;
              rows.push(
                `| ${scenario} | ${label} | ${Math.round(result.perSecond)} | ${result.p50.toFixed(1)} | ${result.p99.toFixed(1)} | ${result.errors} | ${(after[0] ?? 0) - (before[0] ?? 0)} | ${(after[1] ?? 0) - (before[1] ?? 0)} |`,
              );
            }
          },
        );
      }
      const ratio = (scenario: string) =>
        (
          (results[`${scenario}|one replica`]?.perSecond ?? 0) / (results[`${scenario}|primary only`]?.perSecond ?? 1)
        ).toFixed(2);
      const table = [
        '| Scenario | Trellis on | ops/s | p50 ms | p99 ms | errors | transactions on the primary | on the replica |',
        '| --- | --- | --- | --- | --- | --- | --- | --- |',
        ...rows.sort(),
        '',
        `With one replica / primary only: anon reads ${ratio(READS)}×, write-then-read ${ratio(WRITE_THEN_READ)}× (both PostgreSQL servers, Trellis and the load generator on this machine's cores; an op of the second scenario is one write and one read). Load average at the end: ${(os.loadavg()[0] ?? 0).toFixed(1)} on ${os.cpus().length} cores; transactions on the replica include its probes.`,
      ].join('\n');
      report(
        'replicas',
        `\`npx tsx bench/replicas.ts --seconds ${SECONDS} --rounds ${ROUNDS} --concurrency ${CONCURRENCY}\``,
        table,
        values.write === true,
      );
    } finally {
      standby.stop();
    }
  } finally {
    primary.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

await main();
