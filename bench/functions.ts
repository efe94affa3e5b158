/**
 * Edge functions (issue 19): a hello-world function called through /functions/v1 (gateway with
 * verify_jwt, the worker hop, the streamed response), against its floor: the same handler served
 * by plain node:http in this process, with the thinnest Request/Response adapter. Then the cold
 * start: the first call of a function whose source just changed (esbuild bundle + a new worker).
 *
 *   npx tsx bench/functions.ts [--seconds 5] [--concurrency 16] [--colds 5] [--write]
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { report } from './report.js';
import { withBenchServer } from './server.js';
import { runLoad, type LoadResult } from './stats.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '16' },
    colds: { type: 'string', default: '5' },
    write: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
const COLDS = Number(values.colds);

const HANDLER = `(req: Request) =>
  new Response(JSON.stringify({ message: 'Hello ' + new URL(req.url).pathname }), {
    headers: { 'Content-Type': 'application/json' },
  })`;
// The floor runs the very same handler (as JavaScript) behind node:http.
const handler = (req: Request) =>
  new Response(JSON.stringify({ message: 'Hello ' + new URL(req.url).pathname }), {
    headers: { 'Content-Type': 'application/json' },
  });

const floor = http.createServer((req, res) => {
  const request = new Request(`http://${req.headers.host}${req.url}`, { method: req.method });
  void (async () => {
    const response = handler(request);
    const body = Buffer.from(await response.arrayBuffer());
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(body);
  })();
});
await new Promise<void>((resolve) => floor.listen(0, '127.0.0.1', resolve));
const floorUrl = `http://127.0.0.1:${(floor.address() as AddressInfo).port}/hello`;

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
function get(url: string, headers: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

/** A new version of the cold function: a change the bundle keeps (esbuild drops comments). */
function coldSource(version: number): string {
  return `const version = ${version};\nDeno.serve(() => new Response(String(version)));\n`;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const files = {
  'supabase/functions/hello/index.ts': `Deno.serve(${HANDLER});\n`,
  'supabase/functions/cold/index.ts': coldSource(0),
};
const { trellis, floorResult, colds } = await withBenchServer(
  { env: { FUNCTIONS_WATCH: 'true' }, files },
  async (server) => {
    const headers = { authorization: `Bearer ${server.anonKey}` };
    const url = `${server.url}/functions/v1/hello`;
    await get(url, headers);
    const floorResult = await runLoad(() => get(floorUrl, {}), { concurrency: CONCURRENCY, seconds: SECONDS });
    const trellis = await runLoad(() => get(url, headers), { concurrency: CONCURRENCY, seconds: SECONDS });
    const colds: number[] = [];
    const coldFile = path.join(server.dir, 'supabase/functions/cold/index.ts');
    for (let i = 1; i <= COLDS; i++) {
      // A new source: the next call rebuilds it and starts a fresh worker (the checks run every 250 ms).
      fs.writeFileSync(coldFile, coldSource(i));
      await new Promise((r) => setTimeout(r, 300));
      const started = performance.now();
      await get(`${server.url}/functions/v1/cold`, headers);
      colds.push(performance.now() - started);
    }
    return { trellis, floorResult, colds };
  },
);
floor.close();
agent.destroy();

const row = (label: string, t: number, f: number, digits = 0) =>
  `| ${label} | ${t.toFixed(digits)} | ${f.toFixed(digits)} | ${(t / f).toFixed(2)} |`;
const errors = (r: LoadResult) => (r.errors ? ` (${r.errors} errors)` : '');
const table = [
  `| hello-world function, ${CONCURRENCY} loops, ${SECONDS} s | Trellis | floor (node:http, same handler) | ratio |`,
  '| --- | ---: | ---: | ---: |',
  row(`invocations per second${errors(trellis)}`, trellis.perSecond, floorResult.perSecond),
  row('p50 (ms)', trellis.p50, floorResult.p50, 2),
  row('p99 (ms)', trellis.p99, floorResult.p99, 2),
  `| cold start: first call after a change, median of ${COLDS} (ms) | ${median(colds).toFixed(1)} | — | — |`,
].join('\n');
report(
  'functions',
  `\`npx tsx bench/functions.ts --seconds ${SECONDS} --concurrency ${CONCURRENCY} --colds ${COLDS}\``,
  table,
  values.write ?? false,
);
