/**
 * docs/deploy/, tested: three Trellis instances (the real CLI) on one PostgreSQL database and one
 * Redis behind the real HAProxy with docs/deploy/haproxy.cfg, under a bounded supabase-js load.
 * kill -9 of one instance fails only requests in flight on it; SIGTERM fails none (the instance
 * drains: /ready 503, taken out, then stopped). Realtime clients on the lost instance reconnect
 * through HAProxy to another, resubscribe and get a broadcast sent afterwards. nginx with
 * docs/deploy/nginx.conf passes `nginx -t` and serves through the instances left.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningCli } from '../../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../../helpers/db.js';
import { sleep, waitFor } from '../../helpers/realtime.js';
import {
  Daemon,
  Listener,
  client,
  freePort,
  installed,
  load,
  nginxConfig,
  restRequestsServed,
  startHaproxy,
  startInstances,
  untilAnswers,
  type Outcome,
} from './cluster.js';

const ci = process.env.CI === 'true';
const redisUrl = process.env.REDIS_URL;
const haproxyBin = installed('haproxy');
const nginxBin = installed('nginx');
if (!ci && !redisUrl) console.warn('deploy: REDIS_URL is not set, the load balancer tests are skipped');
if (!ci && !haproxyBin) console.warn('deploy: haproxy is not installed (apt-get install haproxy), tests skipped');
if (!ci && !nginxBin) console.warn('deploy: nginx is not installed (apt-get install nginx), its test is skipped');

const GRACE_S = 4;
const WORKERS = 6;

describe.runIf(ci || (redisUrl !== undefined && haproxyBin !== undefined))('three instances behind HAProxy', () => {
  let database: TestDatabase;
  let instances: RunningCli[];
  let haproxy: Daemon;
  let lbUrl: string;
  let anonKey: string;
  const listeners: Listener[] = [];
  // Stopped at teardown too: a failed assertion must not leave a load running into the next test.
  const loads: ReturnType<typeof load>[] = [];
  const startLoad = (tag: string) => {
    const traffic = load(lbUrl, anonKey, WORKERS, tag);
    loads.push(traffic);
    return traffic;
  };
  let pings = 0;

  beforeAll(async () => {
    database = await freshDatabase();
    instances = await startInstances(3, {
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl ?? 'redis://127.0.0.1:6379',
      JWT_SECRET: 'one-secret-for-the-whole-cluster-of-three',
      TRUST_PROXY: 'true',
      DRAIN_GRACE_SECONDS: String(GRACE_S),
    });
    anonKey = /anon key: (\S+)/.exec(instances[0]!.output())?.[1] ?? '';
    const port = await freePort();
    haproxy = await startHaproxy(
      haproxyBin ?? 'haproxy',
      port,
      instances.map((i) => i.port),
    );
    lbUrl = `http://127.0.0.1:${port}`;
    // Seven sockets before any load: leastconn puts two or three on each instance.
    for (let i = 0; i < 7; i++) listeners.push(new Listener(lbUrl, anonKey));
    await waitFor(() => listeners.every((l) => l.subscribed), 15_000, 'every listener subscribed');
    await broadcastReachesAll();
  }, 50_000);

  afterAll(async () => {
    await Promise.all(loads.map((l) => l.stop()));
    await Promise.all(listeners.map((l) => l.close()));
    await haproxy?.stop();
    // SIGINT: no grace at teardown.
    await Promise.all((instances ?? []).map((i) => i.stop('SIGINT')));
    await database?.drop();
  });

  /** A ping from the first listener reaches the six others, wherever their sockets are. */
  async function broadcastReachesAll(): Promise<void> {
    const n = ++pings;
    const [sender, ...receivers] = listeners;
    await sender!.channel.send({ type: 'broadcast', event: 'ping', payload: { n } });
    await waitFor(() => receivers.every((l) => l.pings.includes(n)), 5000, `ping ${n} on every listener`);
  }

  /** Waits until the lost listeners are back, then checks a broadcast reaches all; the reconnect time. */
  async function realtimeRecovers(since: number): Promise<{ lost: number; reconnectMs: number; afterCloseMs: number }> {
    const lost = await waitFor(
      () => {
        const l = listeners.map((x) => x.lostSince(since)).filter((x) => x !== undefined);
        return l.length > 0 && l.every((x) => x.back !== undefined) && listeners.every((x) => x.subscribed) && l;
      },
      20_000,
      'the lost listeners subscribed again',
    );
    await broadcastReachesAll();
    return {
      lost: lost.length,
      reconnectMs: Math.max(...lost.map((x) => x.back! - since)),
      afterCloseMs: Math.max(...lost.map((x) => x.back! - x.lost)),
    };
  }

  const failed = (outcomes: readonly Outcome[]) => outcomes.filter((o) => o.error !== undefined);

  async function rowsTagged(tag: string): Promise<number> {
    const sql = new pg.Client({ connectionString: database.url });
    await sql.connect();
    try {
      return Number((await sql.query('select count(*) from notes where body like $1', [`${tag}-%`])).rows[0].count);
    } finally {
      await sql.end();
    }
  }

  test('kill -9 of one instance fails only the requests in flight on it; realtime moves over', async () => {
    const victim = instances[1]!;
    const before = await restRequestsServed(victim);
    const traffic = startLoad('kill');
    await sleep(2000);
    // The victim had its share of the load: the test would prove nothing otherwise.
    expect((await restRequestsServed(victim)) - before).toBeGreaterThan(3);
    const killedAt = Date.now();
    // Until the kernel has torn the process down, its socket still takes connections.
    const deadAt = killedAt + (await victim.stop('SIGKILL')).ms;
    await sleep(3000);
    const outcomes = await traffic.stop();
    const recovered = await realtimeRecovers(killedAt);

    const failures = failed(outcomes);
    const inFlight = (o: Outcome) => o.start <= deadAt && o.end >= killedAt;
    expect(
      failures.filter((o) => !inFlight(o)),
      `killed at ${killedAt}, gone at ${deadAt}`,
    ).toEqual([]);
    expect(failures.length).toBeLessThanOrEqual(WORKERS);
    expect(outcomes.filter((o) => o.start > deadAt && o.error === undefined).length).toBeGreaterThanOrEqual(WORKERS);
    // Every insert that was answered is there, and none twice (the unique body would have said so).
    const inserted = outcomes.filter((o) => o.what === 'insert' && o.error === undefined).length;
    expect(await rowsTagged('kill')).toBeGreaterThanOrEqual(inserted);
    expect(recovered.lost).toBeGreaterThanOrEqual(1);
    console.info(
      `deploy: kill -9: ${outcomes.length} requests, ${failures.length} failed (in flight: ${failures.map((f) => f.what).join(', ') || 'none'}; ` +
        `the process was gone ${deadAt - killedAt} ms after the signal); ` +
        `${recovered.lost} realtime clients back within ${recovered.reconnectMs} ms ` +
        `(${recovered.afterCloseMs} ms after their socket closed)`,
    );
  });

  test('SIGTERM drains one instance: no request fails, its realtime clients move over', async () => {
    const victim = instances[2]!;
    const traffic = startLoad('term');
    await sleep(1000);
    const signalledAt = Date.now();
    victim.child.kill('SIGTERM');
    const exited = new Promise<number | null>((resolve) => victim.child.once('exit', resolve));
    await waitFor(() => victim.output().includes('draining'), 2000, 'the drain to begin');
    // Out of the balancer's rotation, still serving whoever comes straight to it.
    expect((await fetch(`${victim.url}/ready`)).status).toBe(503);
    const direct = await client(victim.url, anonKey).from('notes').select('id').limit(1);
    expect(direct.error).toBeNull();
    const code = await exited;
    const exitMs = Date.now() - signalledAt;
    await sleep(500);
    const outcomes = await traffic.stop();
    const recovered = await realtimeRecovers(signalledAt);

    expect(code).toBe(0);
    expect(exitMs).toBeGreaterThanOrEqual(GRACE_S * 1000);
    expect(exitMs).toBeLessThan(GRACE_S * 1000 + 10_000);
    expect(failed(outcomes)).toEqual([]);
    const inserted = outcomes.filter((o) => o.what === 'insert').length;
    expect(await rowsTagged('term')).toBe(inserted);
    expect(recovered.lost).toBeGreaterThanOrEqual(1);
    console.info(
      `deploy: SIGTERM: ${outcomes.length} requests, 0 failed; exit 0 after ${exitMs} ms; ` +
        `${recovered.lost} realtime clients back within ${recovered.reconnectMs} ms ` +
        `(${recovered.afterCloseMs} ms after their socket closed)`,
    );
  });

  test.runIf(ci || nginxBin !== undefined)(
    'nginx with docs/deploy/nginx.conf serves through the instance left',
    async () => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-nginx-'));
      const port = await freePort();
      const file = await nginxConfig(
        port,
        instances.map((i) => i.port),
        dir,
      );
      const bin = nginxBin ?? 'nginx';
      const checked = spawnSync(bin, ['-t', '-p', dir, '-c', file], { encoding: 'utf8' });
      expect(checked.stderr).toContain('test is successful');
      const nginx = new Daemon(spawn(bin, ['-p', dir, '-c', file, '-g', 'daemon off;'], { stdio: 'pipe' }));
      try {
        const url = `http://127.0.0.1:${port}`;
        await untilAnswers(`${url}/health`, nginx);
        // Two of the three upstreams are gone: a refused connection goes on to the next.
        const supabase = client(url, anonKey);
        for (let n = 0; n < 9; n++) {
          expect((await supabase.from('notes').insert({ body: `nginx-${n}` })).error).toBeNull();
          expect((await supabase.from('notes').select('id').eq('body', `nginx-${n}`)).data).toHaveLength(1);
        }
        const a = new Listener(url, anonKey);
        const b = new Listener(url, anonKey);
        try {
          await waitFor(() => a.subscribed && b.subscribed, 10_000, 'subscribed through nginx');
          await a.channel.send({ type: 'broadcast', event: 'ping', payload: { n: 1 } });
          await waitFor(() => b.pings.includes(1), 5000, 'a ping through nginx');
        } finally {
          await Promise.all([a.close(), b.close()]);
        }
      } finally {
        await nginx.stop();
        await fs.rm(dir, { recursive: true, force: true });
      }
    },
  );
});
