// A closed-loop HTTP load generator in a process of its own (bench/workers.ts): CONCURRENCY
// kept-alive connections, each sending its next request when the last one answered, for SECONDS
// after one second of warm-up. Its own process, so its CPU is not the server's and the server's
// workers are not slowed by it more than by any client on the machine.
//   process.send({ ops, errors, perSecond, p50, p99, cpuMs })
import http from 'node:http';

const [url, method, headersJson, body, concurrency, seconds] = process.argv.slice(2);
const target = new URL(url);
const headers = JSON.parse(headersJson);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(concurrency) });
const latencies = [];
let errors = 0;
const warmEnd = performance.now() + 1000;
const end = warmEnd + Number(seconds) * 1000;
let cpuAtWarm;

function once() {
  return new Promise((resolve) => {
    const req = http.request(
      { host: target.hostname, port: target.port, path: target.pathname + target.search, method, headers, agent },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode < 300));
      },
    );
    req.on('error', () => resolve(false));
    if (body) req.end(body);
    else req.end();
  });
}

async function loop() {
  while (performance.now() < end) {
    const started = performance.now();
    const ok = await once();
    if (started < warmEnd) continue;
    cpuAtWarm ??= process.cpuUsage();
    if (ok) latencies.push(performance.now() - started);
    else errors++;
  }
}

await Promise.all(Array.from({ length: Number(concurrency) }, loop));
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
const cpu = process.cpuUsage(cpuAtWarm);
process.send(
  {
    ops: latencies.length,
    errors,
    perSecond: latencies.length / Number(seconds),
    p50: pct(50),
    p99: pct(99),
    cpuMs: (cpu.user + cpu.system) / 1000,
  },
  () => process.exit(0),
);
