/**
 * A minimal ustar writer and reader: enough for a PostgreSQL data folder (files and folders, paths
 * under 255 bytes). Files may change while they are read (an online base backup): a file is
 * written with the size it had when listed, cut or padded with zeros; WAL replay repairs it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';

const BLOCK = 512;
const CHUNK = 1024 * 1024;

export interface TarEntry {
  /** Relative, '/'-separated; a folder ends without a slash. */
  readonly name: string;
  readonly type: 'file' | 'dir';
  readonly mode: number;
  readonly size: number;
  readonly mtime: number;
}

/** Splits a path into ustar's name (≤100) and prefix (≤155) fields; undefined when it does not fit. */
function splitName(name: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(name) <= 100) return { name, prefix: '' };
  for (let i = name.indexOf('/'); i !== -1; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100) return { name: rest, prefix };
  }
  return undefined;
}

/** A pax extended header carrying a path too long for ustar (POSIX.1-2001, which GNU and BSD tar read). */
function paxPath(name: string): Buffer {
  const record = (len: number) => `${len} path=${name}\n`;
  let len = Buffer.byteLength(record(0));
  while (Buffer.byteLength(record(len)) !== len) len = Buffer.byteLength(record(len));
  const body = Buffer.from(record(len));
  const header = rawHeader({ name: 'PaxHeader', prefix: '' }, 0o644, body.length, 0, 'x');
  const pad = Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK);
  return Buffer.concat([header, body, pad]);
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

export function tarHeader(entry: TarEntry): Buffer {
  const full = entry.type === 'dir' ? `${entry.name}/` : entry.name;
  const split = splitName(full);
  const size = entry.type === 'dir' ? 0 : entry.size;
  const type = entry.type === 'dir' ? '5' : '0';
  if (split) return rawHeader(split, entry.mode, size, entry.mtime, type);
  return Buffer.concat([
    paxPath(full),
    rawHeader({ name: 'long-path', prefix: '' }, entry.mode, size, entry.mtime, type),
  ]);
}

function rawHeader(
  at: { name: string; prefix: string },
  mode: number,
  size: number,
  mtime: number,
  type: string,
): Buffer {
  const header = Buffer.alloc(BLOCK);
  const { name, prefix } = at;
  header.write(name, 0, 100, 'utf8');
  header.write(octal(mode & 0o7777, 8), 100, 8, 'ascii');
  header.write(octal(0, 8), 108, 8, 'ascii');
  header.write(octal(0, 8), 116, 8, 'ascii');
  header.write(octal(size, 12), 124, 12, 'ascii');
  header.write(octal(Math.floor(mtime / 1000), 12), 136, 12, 'ascii');
  header.write('        ', 148, 8, 'ascii');
  header.write(type, 156, 1, 'ascii');
  header.write('ustar\0', 257, 6, 'ascii');
  header.write('00', 263, 2, 'ascii');
  header.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(octal(sum, 7) + ' ', 148, 8, 'ascii');
  return header;
}

/** Streams the entries as a tar archive, reading each file from `root` (a vanished file is skipped). */
export async function* tarEntries(
  root: string,
  entries: readonly TarEntry[],
  afterFile?: (entry: TarEntry, bytes: number) => Promise<void>,
): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    if (entry.type === 'dir') {
      yield tarHeader(entry);
      continue;
    }
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(path.join(root, entry.name), 'r');
    } catch (err) {
      // Dropped by PostgreSQL since it was listed (a dropped table, a removed temp file): WAL replay recreates what matters.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    try {
      yield tarHeader(entry);
      let left = entry.size;
      while (left > 0) {
        const buffer = Buffer.alloc(Math.min(CHUNK, left));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, entry.size - left);
        // A file cut short while we read it is padded: the header already promised its size.
        if (bytesRead === 0) {
          yield Buffer.alloc(left);
          left = 0;
          break;
        }
        yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
        left -= bytesRead;
      }
      const pad = (BLOCK - (entry.size % BLOCK)) % BLOCK;
      if (pad > 0) yield Buffer.alloc(pad);
    } finally {
      await handle.close();
    }
    await afterFile?.(entry, entry.size);
  }
  yield Buffer.alloc(BLOCK * 2);
}

function readOctal(block: Buffer, offset: number, width: number): number {
  const text = block
    .toString('ascii', offset, offset + width)
    .replace(/[\0 ]+$/g, '')
    .trim();
  if (!/^[0-7]*$/.test(text)) throw new Error('not a tar archive (bad number in a header)');
  return text === '' ? 0 : parseInt(text, 8);
}

function readString(block: Buffer, offset: number, width: number): string {
  const end = block.indexOf(0, offset);
  return block.toString('utf8', offset, end === -1 || end > offset + width ? offset + width : end);
}

/** A member's path, refused when it would land outside the destination. */
function safeName(name: string): string {
  const clean = name.replace(/\/+$/, '');
  if (
    clean === '' ||
    clean.startsWith('/') ||
    clean.split('/').some((s) => s === '..' || s === '') ||
    clean.includes('\0')
  )
    throw new Error(`refusing a tar member named "${name}"`);
  return clean;
}

/** Unpacks a tar stream into `dest` (made if missing). Only files and folders; anything else is refused. */
export async function extractTar(stream: Readable, dest: string): Promise<number> {
  await fs.mkdir(dest, { recursive: true, mode: 0o700 });
  let pending: Buffer = Buffer.alloc(0);
  let current: { handle: fs.FileHandle; left: number; pad: number } | undefined;
  /** A pax header's body being read, then the path it gives the next member. */
  let pax: { bytes: Buffer[]; left: number; pad: number } | undefined;
  let longPath: string | undefined;
  let count = 0;
  let ended = false;
  const take = async (): Promise<void> => {
    for (;;) {
      if (pax) {
        if (pax.left > 0) {
          const n = Math.min(pax.left, pending.length);
          pax.bytes.push(Buffer.from(pending.subarray(0, n)));
          pending = pending.subarray(n);
          pax.left -= n;
          if (pax.left > 0) return;
        }
        if (pending.length < pax.pad) return;
        pending = pending.subarray(pax.pad);
        const text = Buffer.concat(pax.bytes).toString('utf8');
        longPath = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(text)?.[1];
        pax = undefined;
        continue;
      }
      if (current) {
        if (current.left > 0) {
          if (pending.length === 0) return;
          const n = Math.min(current.left, pending.length);
          await current.handle.write(pending.subarray(0, n));
          pending = pending.subarray(n);
          current.left -= n;
          if (current.left > 0) return;
        }
        if (pending.length < current.pad) return;
        pending = pending.subarray(current.pad);
        await current.handle.close();
        current = undefined;
        continue;
      }
      if (ended || pending.length < BLOCK) return;
      const block = pending.subarray(0, BLOCK);
      pending = pending.subarray(BLOCK);
      if (block.every((b) => b === 0)) {
        ended = true;
        return;
      }
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
      if (sum !== readOctal(block, 148, 8)) throw new Error('not a tar archive (header checksum mismatch)');
      const prefix = readString(block, 345, 155);
      const rawName = readString(block, 0, 100);
      const type = String.fromCharCode(block[156]!);
      const mode = readOctal(block, 100, 8);
      const size = readOctal(block, 124, 12);
      if (type === 'x') {
        if (size > 65_536) throw new Error('not a tar archive (oversized pax header)');
        pax = { bytes: [], left: size, pad: (BLOCK - (size % BLOCK)) % BLOCK };
        continue;
      }
      const name = safeName(longPath ?? (prefix ? `${prefix}/${rawName}` : rawName));
      longPath = undefined;
      const target = path.join(dest, name);
      if (type === '5') {
        await fs.mkdir(target, { recursive: true, mode: mode || 0o700 });
      } else if (type === '0' || type === '\0') {
        await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
        const handle = await fs.open(target, 'wx', mode || 0o600);
        current = { handle, left: size, pad: (BLOCK - (size % BLOCK)) % BLOCK };
        count++;
      } else {
        throw new Error(`refusing tar member "${name}" of type ${JSON.stringify(type)}`);
      }
    }
  };
  try {
    for await (const chunk of stream) {
      pending = pending.length === 0 ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer]);
      await take();
    }
    await take();
    if (current || pax || !ended) throw new Error('the tar archive ends early (truncated piece)');
  } finally {
    await current?.handle.close().catch(() => undefined);
  }
  return count;
}

/** Lists `root` recursively for a tar: folders first in each folder, `skip(rel)` leaves a path out. */
export async function listTree(
  root: string,
  keep: (rel: string, isDir: boolean) => 'keep' | 'skip' | 'empty',
): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  const walk = async (rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await fs.readdir(path.join(root, rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const name of names.sort()) {
      const child = rel === '' ? name : `${rel}/${name}`;
      const st = await fs.lstat(path.join(root, child)).catch(() => undefined);
      if (!st) continue;
      const isDir = st.isDirectory();
      if (!isDir && !st.isFile()) continue;
      const decision = keep(child, isDir);
      if (decision === 'skip') continue;
      out.push({
        name: child,
        type: isDir ? 'dir' : 'file',
        mode: st.mode,
        size: isDir ? 0 : st.size,
        mtime: st.mtimeMs,
      });
      if (isDir && decision === 'keep') await walk(child);
    }
  };
  await walk('');
  return out;
}
