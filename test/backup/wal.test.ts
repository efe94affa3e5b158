/** Shipped WAL: gzip'd under a key that carries the checksum of what is stored, and read back exactly. */
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { expect, test } from 'vitest';
import { parseShippedKey, walBytes } from '../../src/backup/wal.js';

const segment = Buffer.concat([crypto.randomBytes(8192), Buffer.alloc(16 * 1024 * 1024 - 8192)]);
const stored = zlib.gzipSync(segment, { level: 1 });
const sha = crypto.createHash('sha256').update(stored).digest('hex');
const when = new Date('2026-12-02T00:00:00Z');

test('a gzip key parses, and its bytes come back as PostgreSQL wrote them', async () => {
  const w = parseShippedKey(`wal/7301/000000010000000000000003.gz-${sha}`, when);
  expect(w).toMatchObject({ system: '7301', name: '000000010000000000000003', gzipped: true, sha256: sha });
  expect((await walBytes(w!, stored))?.equals(segment)).toBe(true);
  // A segment closed early by archive_timeout is mostly zeros: it ships as a sliver of 16 MiB.
  expect(stored.length).toBeLessThan(200 * 1024);
});

test('a key from before compression still reads as it was stored', async () => {
  const raw = Buffer.from('history file\n');
  const rawSha = crypto.createHash('sha256').update(raw).digest('hex');
  const w = parseShippedKey(`wal/7301/00000002.history-${rawSha}`, when);
  expect(w?.gzipped).toBe(false);
  expect((await walBytes(w!, raw))?.equals(raw)).toBe(true);
});

test('damaged bytes fail the checksum instead of reaching PostgreSQL', async () => {
  const w = parseShippedKey(`wal/7301/000000010000000000000003.gz-${sha}`, when)!;
  const damaged = Buffer.from(stored);
  damaged[damaged.length - 20]! ^= 1;
  expect(await walBytes(w, damaged)).toBeUndefined();
  expect(parseShippedKey(`wal/7301/000000010000000000000003.zip-${sha}`, when)).toBeUndefined();
});
