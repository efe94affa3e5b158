/**
 * A hot anonymous read with the response cache on and off (issue 16): the same 50 rooms in two
 * tables, one with `@cache 30s`, read by the anon key through a started Trellis (a separate
 * process; this one is the load generator, with node:http kept-alive sockets). The floor is the
 * uncached read: the ratio is what the cache buys for a read served from it. A third figure reads
 * the cached table while a writer changes it 10 times a second, so part of the reads miss.
 *
 *   npx tsx bench/rest-cache.ts [--seconds 3] [--rounds 3] [--concurrency 8] [--write]
 */
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { report } from './report.js';
import { ROOT, withBenchServer } from './server.js';
import { medianResult, runLoad, type LoadResult } from './stats.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '8' },
    write: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);

async function main() {
  const migrations = { '20240101000000_rooms.sql': path.join(ROOT, 'bench', 'fixtures', 'rest-cache.sql') };
  await withBenchServer({ env: {}, migrations }, async ({ url, dbUrl, anonKey }) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const headers = { apikey: anonKey, authorization: `Bearer ${anonKey}` };
    const cacheResults = new Map<string, number>();
    const get = (table: string) =>
      new Promise<void>((resolve, reject) => {
        const req = http.request(`${url}/rest/v1/${table}?select=*&order=id`, { agent, headers }, (res) => {
          const result = String(res.headers['x-trellis-cache'] ?? 'none');
          cacheResults.set(result, (cacheResults.get(result) ?? 0) + 1);
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${res.statusCode}`))));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
    // Until the change stream is live, reads bypass the cache.
    for (let i = 0; i < 300; i++) {
      cacheResults.clear();
      await get('rooms_cached');
      await get('rooms_cached');
      if (cacheResults.get('hit')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!cacheResults.get('hit')) throw new Error('the cache never answered a hit');

    const pool = new pg.Pool({ connectionString: dbUrl, max: 1 });
    let writes = 0;
    const withWriter = async (work: () => Promise<LoadResult>) => {
      const timer = setInterval(() => {
        writes++;
        void pool.query(`update public.rooms_cached set name = 'room ' || $1::text where id = 1`, [writes]);
      }, 100);
      try {
        return await work();
      } finally {
        clearInterval(timer);
      }
    };
    const load = { concurrency: CONCURRENCY, seconds: SECONDS };
    const scenarios = {
      off: () => runLoad(() => get('rooms_plain'), load),
      on: () => runLoad(() => get('rooms_cached'), load),
      onWriting: () => withWriter(() => runLoad(() => get('rooms_cached'), load)),
    };
    const results: Record<keyof typeof scenarios, LoadResult[]> = { off: [], on: [], onWriting: [] };
    const tallies: Record<keyof typeof scenarios, Map<string, number>> = {
      off: new Map(),
      on: new Map(),
      onWriting: new Map(),
    };
    for (let round = 0; round < ROUNDS; round++)
      for (const name of Object.keys(scenarios) as (keyof typeof scenarios)[]) {
        cacheResults.clear();
        results[name].push(await scenarios[name]());
        for (const [k, v] of cacheResults) tallies[name].set(k, (tallies[name].get(k) ?? 0) + v);
        process.stderr.write(`round ${round + 1}/${ROUNDS} ${name}: ${results[name].at(-1)?.perSecond.toFixed(0)}/s\n`);
      }
    await pool.end();
    agent.destroy();

    const off = medianResult(results.off);
    const hitShare = (name: keyof typeof scenarios) => {
      const t = tallies[name];
      const hits = t.get('hit') ?? 0;
      const all = [...t.values()].reduce((a, b) => a + b, 0);
      return all === 0 ? '–' : `${((100 * hits) / all).toFixed(1)} %`;
    };
    const row = (what: string, name: keyof typeof scenarios) => {
      const r = medianResult(results[name]);
      return `| ${what} | ${r.perSecond.toFixed(0)}/s | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms | ${r.errors} | ${hitShare(name)} | **${(r.perSecond / off.perSecond).toFixed(2)}** |`;
    };
    const table = [
      '| Anonymous read of 50 rooms (`GET /rest/v1/rooms?select=*&order=id`) | Throughput | p50 | p99 | Errors | Hits | Ratio to cache off |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      row('cache off (no `@cache`): the floor', 'off'),
      row('cache on (`@cache 30s`), in memory', 'on'),
      row('cache on, the table updated 10 times a second', 'onWriting'),
    ].join('\n');
    report(
      'rest-cache',
      `\`npx tsx bench/rest-cache.ts\` (${CONCURRENCY} concurrent clients over node:http from a separate process; ${ROUNDS} alternating rounds of ${SECONDS} s after 1 s warm-up, medians; embedded PostgreSQL, no Redis)`,
      table,
      values.write === true,
    );
  });
}

await main();
