/**
 * Storage throughput (issue 6) on the local backend, through a started Trellis: uploads and
 * downloads of 1 KB, 1 MB and 100 MB objects, each beside its floor measured in the same run on
 * the same disk: copying the same bytes with Node streams (fs read stream -> fs write stream).
 * Uploads stream a file from disk over HTTP; downloads stream the response into a file. Then the
 * resident memory of the Trellis process while one 1 GB object is uploaded (it must stay flat).
 * Beside the plain uploads, the same bytes through the S3 protocol endpoint (/storage/v1/s3,
 * PutObject with @aws-sdk/client-s3 in session mode, so the same RLS decides); `--s3-only` runs just
 * that comparison (no downloads, no 1 GB run).
 *
 *   npx tsx bench/storage.ts [--rounds 3] [--write] [--s3-only]
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { report } from './report.js';
import { ROOT, withBenchServer } from './server.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    write: { type: 'boolean', default: false },
    's3-only': { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(values.rounds);
const S3_ONLY = values['s3-only'];
const SIZES = [
  { label: '1 KB', bytes: 1024, ops: 200 },
  { label: '1 MB', bytes: 1024 * 1024, ops: 40 },
  { label: '100 MB', bytes: 100 * 1024 * 1024, ops: 2 },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function makeFile(file: string, bytes: number) {
  const fd = fs.openSync(file, 'w');
  const block = crypto.randomBytes(Math.min(bytes, 1024 * 1024));
  for (let written = 0; written < bytes; written += block.length)
    fs.writeSync(fd, block, 0, Math.min(block.length, bytes - written));
  fs.closeSync(fd);
}

/** MB/s of `ops` sequential runs of `op`. */
async function throughput(bytes: number, ops: number, op: (i: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < ops; i++) await op(i);
  return (bytes * ops) / 2 ** 20 / ((performance.now() - started) / 1000);
}

function request(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: fs.ReadStream,
  sink?: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      if ((res.statusCode ?? 0) >= 300) {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => reject(new Error(`${res.statusCode} ${text}`)));
        return;
      }
      if (sink) pipeline(res, fs.createWriteStream(sink)).then(resolve, reject);
      else res.resume().on('end', resolve);
    });
    req.on('error', reject);
    if (body) pipeline(body, req).catch(reject);
    else req.end();
  });
}

function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-storage-'));
  const migrations = { '20240101000000_storage.sql': path.join(ROOT, 'bench', 'fixtures', 'storage.sql') };
  const env = { STORAGE_FILE_SIZE_LIMIT: String(2 * 1024 ** 3), AUTH_RATE_LIMIT_SIGN_IN: '1000000' };
  try {
    const rows: string[] = [];
    const s3Rows: string[] = [];
    let memory = '';
    await withBenchServer({ env, migrations }, async ({ url, anonKey, pid }) => {
      const signup = await fetch(`${url}/auth/v1/signup`, {
        method: 'POST',
        headers: { apikey: anonKey, 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'bench@example.com', password: 'bench password' }),
      });
      const session = (await signup.json()) as { access_token: string; user: { id: string } };
      const auth = { apikey: anonKey, authorization: `Bearer ${session.access_token}` };
      const folder = session.user.id;
      const s3 = new S3Client({
        endpoint: `${url}/storage/v1/s3`,
        region: 'local',
        forcePathStyle: true,
        credentials: { accessKeyId: 'bench', secretAccessKey: anonKey, sessionToken: session.access_token },
      });
      // --s3-only is the small run: 1 KB and 1 MB objects only.
      for (const size of S3_ONLY ? SIZES.slice(0, 2) : SIZES) {
        const source = path.join(work, `source-${size.bytes}`);
        makeFile(source, size.bytes);
        const results = {
          up: [] as number[],
          s3Up: [] as number[],
          upFloor: [] as number[],
          upFloorFlush: [] as number[],
          down: [] as number[],
          downFloor: [] as number[],
        };
        for (let round = 0; round < ROUNDS; round++) {
          const name = (i: number) => `${folder}/r${round}-${size.bytes}-${i}.bin`;
          results.upFloor.push(
            await throughput(size.bytes, size.ops, (i) =>
              pipeline(fs.createReadStream(source), fs.createWriteStream(path.join(work, `floor-${i}`))),
            ),
          );
          // Trellis flushes an upload to disk before it counts; the same copy with the flush, for reading.
          results.upFloorFlush.push(
            await throughput(size.bytes, size.ops, (i) =>
              pipeline(
                fs.createReadStream(source),
                fs.createWriteStream(path.join(work, `floor-${i}`), { flush: true }),
              ),
            ),
          );
          results.up.push(
            await throughput(size.bytes, size.ops, (i) =>
              request(
                `${url}/storage/v1/object/bench/${name(i)}`,
                'POST',
                { ...auth, 'content-type': 'application/octet-stream', 'content-length': String(size.bytes) },
                fs.createReadStream(source),
              ),
            ),
          );
          results.s3Up.push(
            await throughput(size.bytes, size.ops, (i) =>
              s3
                .send(
                  new PutObjectCommand({
                    Bucket: 'bench',
                    Key: `${name(i)}.s3`,
                    Body: fs.createReadStream(source),
                    ContentLength: size.bytes,
                    ContentType: 'application/octet-stream',
                  }),
                )
                .then(() => undefined),
            ),
          );
          if (S3_ONLY) {
            for (const f of fs.readdirSync(work)) if (!f.startsWith('source-')) fs.rmSync(path.join(work, f));
            continue;
          }
          results.downFloor.push(
            await throughput(size.bytes, size.ops, (i) =>
              pipeline(
                fs.createReadStream(path.join(work, `floor-${i}`)),
                fs.createWriteStream(path.join(work, `floor-copy-${i}`)),
              ),
            ),
          );
          results.down.push(
            await throughput(size.bytes, size.ops, (i) =>
              request(
                `${url}/storage/v1/object/bench/${name(i)}`,
                'GET',
                auth,
                undefined,
                path.join(work, `download-${i}`),
              ),
            ),
          );
          for (const f of fs.readdirSync(work)) if (!f.startsWith('source-')) fs.rmSync(path.join(work, f));
        }
        fs.rmSync(source);
        const [up, upFloor, upFloorFlush, down, downFloor] = [
          median(results.up),
          median(results.upFloor),
          median(results.upFloorFlush),
          median(results.down),
          median(results.downFloor),
        ];
        const s3Up = median(results.s3Up);
        s3Rows.push(
          `| ${size.label} | ${up.toFixed(1)} | ${s3Up.toFixed(1)} | **${(s3Up / up).toFixed(2)}** | ${upFloorFlush.toFixed(1)} (${(s3Up / upFloorFlush).toFixed(2)}) |`,
        );
        rows.push(
          `| ${size.label} | ${up.toFixed(1)} | ${upFloor.toFixed(1)} | **${(up / upFloor).toFixed(2)}** | ${upFloorFlush.toFixed(1)} (${(up / upFloorFlush).toFixed(2)}) | ${down.toFixed(1)} | ${downFloor.toFixed(1)} | **${(down / downFloor).toFixed(2)}** |`,
        );
      }

      s3.destroy();
      if (S3_ONLY) return;
      // Resident memory of the Trellis process while one 1 GB object streams in.
      const big = path.join(work, 'source-1g');
      makeFile(big, 1024 ** 3);
      const before = rssMiB(pid);
      const samples: number[] = [];
      const timer = setInterval(() => samples.push(rssMiB(pid)), 100);
      const started = performance.now();
      await request(
        `${url}/storage/v1/object/bench/${folder}/one-gigabyte.bin`,
        'POST',
        { ...auth, 'content-type': 'application/octet-stream', 'content-length': String(1024 ** 3) },
        fs.createReadStream(big),
      );
      clearInterval(timer);
      const seconds = (performance.now() - started) / 1000;
      fs.rmSync(big);
      memory = `| 1 GB upload | ${before.toFixed(0)} MiB | ${Math.max(...samples).toFixed(0)} MiB | ${samples.at(-1)?.toFixed(0)} MiB | ${samples.length} | ${(1024 / seconds).toFixed(0)} MB/s |`;
    });
    const s3Table = [
      '| Object | Plain upload MB/s | S3 PutObject MB/s | S3 / plain | Floor with fsync MB/s (S3 ratio) |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...s3Rows,
    ].join('\n');
    report(
      'storage-s3',
      `\`npx tsx bench/storage.ts --rounds ${ROUNDS}${S3_ONLY ? ' --s3-only' : ''}\` (sequential requests, median of ${ROUNDS} rounds; S3 PutObject through /storage/v1/s3 in session mode, the SDK streaming the file aws-chunked)`,
      s3Table,
      values.write,
    );
    if (S3_ONLY) return;
    const table = [
      '| Object | Upload MB/s | Floor MB/s | Ratio | Floor with fsync MB/s (ratio) | Download MB/s | Floor MB/s | Ratio |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows,
      '',
      '| Resident memory of Trellis | Before | Peak | At the end | Samples (every 100 ms) | Throughput |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      memory,
    ].join('\n');
    report(
      'storage',
      `\`npx tsx bench/storage.ts --rounds ${ROUNDS}\` (sequential requests, median of ${ROUNDS} rounds; floor: fs read stream -> fs write stream on the same disk, same run)`,
      table,
      values.write,
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();
