/**
 * Run by test/platform/cluster-state.test.ts with tsx: a real node:cluster primary serving the
 * box's rate limits and read fences, and two workers using them. The primary prints one JSON line.
 */
import cluster from 'node:cluster';
import { serveClusterFences } from '../../src/platform/fence/index.js';
import { serveClusterRateLimits, createRateLimiter } from '../../src/platform/limiter/index.js';
import { createClusterFenceStore } from '../../src/platform/fence/cluster.js';
import { createLogger } from '../../src/platform/logger.js';

const log = createLogger({ level: 'silent', pretty: false });
const rule = { name: 'cluster_test', points: 6, durationS: 60 };

if (cluster.isPrimary) {
  serveClusterRateLimits();
  serveClusterFences();
  const results: Record<string, unknown> = {};
  const workers = [cluster.fork({ ROLE: 'writer' }), cluster.fork({ ROLE: 'reader' })];
  let done = 0;
  for (const w of workers)
    w.on('message', (m: { result?: Record<string, unknown>; wrote?: true }) => {
      if (m.wrote) workers[1]?.send({ read: true });
      if (m.result) {
        Object.assign(results, m.result);
        if (++done === 2) {
          console.log(JSON.stringify(results));
          for (const x of workers) x.kill();
        }
      }
    });
} else {
  const limiter = createRateLimiter({ redisUrl: undefined, clusterWorker: true, log });
  const fences = createClusterFenceStore(log);
  const role = process.env.ROLE ?? '';
  // Listening first: a message that arrives before its listener is lost.
  const told = new Promise<void>((resolve) => process.on('message', (m: { read?: true }) => m.read && resolve()));
  let allowed = 0;
  for (let i = 0; i < 5; i++) if ((await limiter.consume(rule, '127.0.0.1')).allowed) allowed++;
  if (role === 'writer') {
    await fences.note('sub:a', 0x10_0000_0001n, 60_000);
    process.send?.({ result: { writerAllowed: allowed } });
    process.send?.({ wrote: true });
  } else {
    await told;
    const lsn = await fences.get('sub:a');
    process.send?.({ result: { readerAllowed: allowed, fence: lsn?.toString(16) } });
  }
}
