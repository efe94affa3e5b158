/**
 * Resumable (TUS) uploads beside plain ones (issue 18), on the local backend through a started
 * Trellis: one object of --mib MiB uploaded plainly (one POST) and resumably (a creation, then
 * PATCHes of --chunk-mib MiB), each beside its floor measured in the same run: the same bytes
 * copied with Node streams to a file flushed to disk. The resident memory of the Trellis process
 * is sampled every 100 ms during the resumable upload (it must stay flat whatever the size; the
 * issue asks for 1 GB: `--mib 1024`).
 *
 *   npx tsx bench/storage-tus.ts [--mib 1024] [--chunk-mib 8] [--write]
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { report } from './report.js';
import { ROOT, withBenchServer } from './server.js';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '1024' },
    'chunk-mib': { type: 'string', default: '8' },
    write: { type: 'boolean', default: false },
  },
});
const BYTES = Number(values.mib) * 2 ** 20;
const CHUNK = Number(values['chunk-mib']) * 2 ** 20;

function makeFile(file: string, bytes: number) {
  const fd = fs.openSync(file, 'w');
  const block = crypto.randomBytes(Math.min(bytes, 2 ** 20));
  for (let written = 0; written < bytes; written += block.length)
    fs.writeSync(fd, block, 0, Math.min(block.length, bytes - written));
  fs.closeSync(fd);
}

/** One HTTP request with an optional streamed body; resolves with the status and headers. */
function request(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: fs.ReadStream,
): Promise<http.IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () =>
        (res.statusCode ?? 0) >= 300 ? reject(new Error(`${res.statusCode} ${text}`)) : resolve(res.headers),
      );
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

async function seconds(op: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await op();
  return (performance.now() - started) / 1000;
}

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-tus-'));
  const migrations = { '20240101000000_storage.sql': path.join(ROOT, 'bench', 'fixtures', 'storage.sql') };
  const env = { STORAGE_FILE_SIZE_LIMIT: String(BYTES * 2), AUTH_RATE_LIMIT_SIGN_IN: '1000000' };
  try {
    const source = path.join(work, 'source');
    makeFile(source, BYTES);
    const table = await withBenchServer({ env, migrations }, async ({ url, anonKey, pid }) => {
      const signup = await fetch(`${url}/auth/v1/signup`, {
        method: 'POST',
        headers: { apikey: anonKey, 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'bench@example.com', password: 'bench password' }),
      });
      const session = (await signup.json()) as { access_token: string; user: { id: string } };
      const auth = { apikey: anonKey, authorization: `Bearer ${session.access_token}` };
      const folder = session.user.id;

      const floor = await seconds(() =>
        pipeline(fs.createReadStream(source), fs.createWriteStream(path.join(work, 'floor'), { flush: true })),
      );
      fs.rmSync(path.join(work, 'floor'));
      const plain = await seconds(() =>
        request(
          `${url}/storage/v1/object/bench/${folder}/plain.bin`,
          'POST',
          { ...auth, 'content-type': 'application/octet-stream', 'content-length': String(BYTES) },
          fs.createReadStream(source),
        ),
      );

      const before = rssMiB(pid);
      const samples: number[] = [];
      const timer = setInterval(() => samples.push(rssMiB(pid)), 100);
      const b64 = (s: string) => Buffer.from(s).toString('base64');
      const resumable = await seconds(async () => {
        const created = await request(`${url}/storage/v1/upload/resumable`, 'POST', {
          ...auth,
          'tus-resumable': '1.0.0',
          'upload-length': String(BYTES),
          'upload-metadata': `bucketName ${b64('bench')},objectName ${b64(`${folder}/resumable.bin`)},contentType ${b64('application/octet-stream')}`,
        });
        const location = String(created.location);
        for (let offset = 0; offset < BYTES; offset += CHUNK) {
          const end = Math.min(BYTES, offset + CHUNK);
          await request(
            location,
            'PATCH',
            {
              ...auth,
              'tus-resumable': '1.0.0',
              'upload-offset': String(offset),
              'content-type': 'application/offset+octet-stream',
              'content-length': String(end - offset),
            },
            fs.createReadStream(source, { start: offset, end: end - 1 }),
          );
        }
      });
      clearInterval(timer);
      const mbs = (s: number) => BYTES / 2 ** 20 / s;
      return [
        `| Upload of ${values.mib} MiB | MB/s | Floor (stream copy, fsync) MB/s | Ratio |`,
        '| --- | ---: | ---: | ---: |',
        `| plain (one POST) | ${mbs(plain).toFixed(1)} | ${mbs(floor).toFixed(1)} | **${(floor / plain).toFixed(2)}** |`,
        `| resumable (TUS, ${values['chunk-mib']} MiB PATCHes) | ${mbs(resumable).toFixed(1)} | ${mbs(floor).toFixed(1)} | **${(floor / resumable).toFixed(2)}** |`,
        '',
        '| Resident memory of Trellis during the resumable upload | Before | Peak | At the end | Samples (every 100 ms) |',
        '| --- | ---: | ---: | ---: | ---: |',
        `| ${values.mib} MiB | ${before.toFixed(0)} MiB | ${Math.max(...samples).toFixed(0)} MiB | ${samples.at(-1)?.toFixed(0)} MiB | ${samples.length} |`,
      ].join('\n');
    });
    report(
      'storage-tus',
      `\`npx tsx bench/storage-tus.ts --mib ${values.mib} --chunk-mib ${values['chunk-mib']}\` (one upload each, local disk; floor: fs read stream -> fs write stream with flush, same run)`,
      table,
      values.write,
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();
