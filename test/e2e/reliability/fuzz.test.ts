/**
 * The whole API fuzzed for a bounded time: seeded random mutations of supabase-js-shaped requests
 * against every surface of a started server. Every answer must be below 500 and arrive (no hang,
 * no dropped connection); afterwards the server is still healthy. The seed is printed; set
 * FUZZ_SEED to replay a run, FUZZ_REQUESTS / FUZZ_SECONDS to run longer.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { prng } from '../../rest/fuzz-inputs.js';
import { randomRequest } from './fuzz-requests.js';
import type { RawRequest, RawResponse } from './raw-http.js';
import { headersFor, startWorld, type World } from './world.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x7e11_5eed);
// Bounded twice: CI on two loaded cores must finish well inside 40 s.
const MAX_REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 8000);
const MAX_MS = Number(process.env.FUZZ_SECONDS ?? 20) * 1000;
const IN_FLIGHT = 4;

let world: World;

beforeAll(async () => {
  world = await startWorld({
    // Past the per-IP limits, so the fuzz reaches the handlers behind them.
    AUTH_RATE_LIMIT_SIGN_IN: '1000000',
    AUTH_RATE_LIMIT_VERIFY: '1000000',
    AUTH_RATE_LIMIT_TOKEN_REFRESH: '1000000',
    AUTH_RATE_LIMIT_EMAIL_SENT: '1000000',
    REALTIME_MAX_PAYLOAD_BYTES: '65536',
  });
});
afterAll(async () => {
  await world?.server.stop();
});

function describeFailure(req: RawRequest, res: RawResponse | Error): string {
  // Tokens by name, not by their 400 characters.
  let headers = JSON.stringify(req.headers);
  for (const [name, token] of Object.entries(world.tokens)) headers = headers.split(token).join(`<${name}>`);
  const body = req.body === undefined ? '' : ` body=${JSON.stringify(String(req.body).slice(0, 300))}`;
  const answer = res instanceof Error ? `no answer: ${res.message}` : `${res.status} ${res.text.slice(0, 300)}`;
  return `${req.method} ${JSON.stringify(req.path.slice(0, 300))} headers=${headers}${body}\n  -> ${answer}`;
}

test(`no fuzzed request gets a 5xx (seed ${SEED})`, { timeout: MAX_MS + 30_000 }, async () => {
  console.log(`fuzz seed: ${SEED} (FUZZ_SEED=${SEED} replays this run)`);
  const random = prng(SEED);
  const identity = { userId: world.userId, tokens: world.tokens };
  // Generated up front, in order, so a run replays exactly whatever the answers' timing.
  const requests = Array.from({ length: MAX_REQUESTS }, () => randomRequest(random, identity));
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  const deadline = Date.now() + MAX_MS;
  let next = 0;
  const worker = async () => {
    while (next < requests.length && Date.now() < deadline) {
      const req = requests[next++] as RawRequest;
      try {
        const res = await world.send(req);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status >= 500 || res.status === 0) failures.push(describeFailure(req, res));
      } catch (err) {
        failures.push(describeFailure(req, err as Error));
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const sent =
    [...statuses.values()].reduce((a, b) => a + b, 0) + failures.filter((f) => f.includes('no answer')).length;
  console.log(
    `fuzz: ${sent} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`,
  );
  expect(
    failures,
    `${failures.length} fuzzed requests failed (seed ${SEED}):\n${failures.slice(0, 20).join('\n')}`,
  ).toEqual([]);
  expect(sent).toBeGreaterThan(100);

  expect((await world.send({ method: 'GET', path: '/health' })).status).toBe(200);
  expect(
    (await world.send({ method: 'GET', path: '/rest/v1/notes?select=id', headers: headersFor(world, 'user') })).status,
  ).toBe(200);
});
