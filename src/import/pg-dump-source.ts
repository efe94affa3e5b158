/**
 * Opens a dump file for reading: refuses the formats psql cannot read either (pg_dump's custom,
 * tar and directory formats, other binary files), decompresses a gzip'd dump, and yields its lines
 * with their numbers. Lines are split on \n only (a lone \r inside a string literal is data).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { FatalError } from '../errors.js';

/** Consecutive lines of the dump (without their line breaks); `first` is the number of the first. */
export interface DumpLines {
  readonly lines: readonly string[];
  readonly first: number;
}

/** Whether the start of a text file is a plain pg_dump (with or without its comment header). */
export function looksLikePgDump(head: string): boolean {
  if (/^--\s*PostgreSQL database (cluster )?dump/m.test(head)) return true;
  // `supabase db dump` deletes the comments: what is left starts with pg_dump's settings.
  const first = head
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '' && !l.startsWith('--'));
  return (
    first !== undefined &&
    (/^\\(un)?restrict\s/.test(first) ||
      /^SET (statement_timeout|session_replication_role|lock_timeout|client_encoding)\b/.test(first))
  );
}

/**
 * Whether `file` is a PostgreSQL dump, for the import command's source detection: a plain one
 * (gzip'd or not, with or without pg_dump's comments) or a custom/tar/directory one (which
 * importPgDump then refuses with the pg_restore command that converts it).
 */
export async function isPgDumpFile(file: string): Promise<boolean> {
  const stat = await fsp.stat(file).catch(() => undefined);
  if (!stat) return false;
  if (stat.isDirectory())
    return fsp.access(`${file}/toc.dat`).then(
      () => true,
      () => false,
    );
  let head = await readHead(fs.createReadStream(file, { start: 0, end: 4095 }), 4096);
  if (head[0] === 0x1f && head[1] === 0x8b)
    head = await readHead(fs.createReadStream(file).pipe(zlib.createGunzip()), 4096);
  if (head.subarray(0, 5).toString('latin1') === 'PGDMP') return true;
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return head.includes('toc.dat');
  return looksLikePgDump(head.toString('utf8'));
}

/** How the first bytes say the file is not a plain SQL dump; undefined when it may be one. */
export function refuseFormat(head: Buffer, file: string): string | undefined {
  const convert = `convert it with \`pg_restore -f dump.sql ${file}\` and import dump.sql`;
  if (head.subarray(0, 5).toString('latin1') === 'PGDMP')
    return `${file} is a pg_dump custom-format archive, not a plain SQL dump: ${convert}`;
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar')
    return `${file} is a tar archive (pg_dump -Ft?), not a plain SQL dump: ${convert}`;
  // A NUL on the first line: a binary file. Later: a damaged text dump, refused by the line reader
  // with the line named.
  const nul = head.indexOf(0);
  if (nul !== -1 && !head.subarray(0, nul).includes(10))
    return `${file} is a binary file, not a plain SQL dump (pg_dump -Fp or supabase db dump)`;
  return undefined;
}

/** Opens `file`; throws a FatalError naming what is wrong with it before a line is read. */
export async function openDump(file: string): Promise<AsyncIterable<DumpLines>> {
  const stat = await fsp.stat(file).catch(() => {
    throw new FatalError(`${file}: no such file`);
  });
  if (stat.isDirectory()) {
    const toc = await fsp.access(`${file}/toc.dat`).then(
      () => true,
      () => false,
    );
    throw new FatalError(
      toc
        ? `${file} is a pg_dump directory-format dump: convert it with \`pg_restore -f dump.sql ${file}\` and import dump.sql`
        : `${file} is a folder, not a dump file`,
    );
  }
  let head = await readHead(fs.createReadStream(file, { start: 0, end: 511 }));
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  if (gzip) head = await readHead(fs.createReadStream(file).pipe(zlib.createGunzip()), 512);
  const refused = refuseFormat(head, file);
  if (refused) throw new FatalError(refused);
  const open = (): Readable => {
    const raw = fs.createReadStream(file, { highWaterMark: 256 * 1024 });
    return gzip ? raw.pipe(zlib.createGunzip()) : raw;
  };
  return { [Symbol.asyncIterator]: () => linesOf(open(), file) };
}

async function readHead(stream: Readable, limit = 512): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= limit) break;
    }
  } catch {
    // A damaged gzip stream: reported by the full read, with its message.
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, limit);
}

/** The lines of a chunk at a time: one await per 256 KiB, not per line (a COPY block is mostly lines). */
async function* linesOf(stream: Readable, file: string): AsyncGenerator<DumpLines> {
  stream.setEncoding('utf8');
  let rest = '';
  let line = 0;
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const text = rest + chunk;
      const parts = text.split('\n');
      rest = parts.pop() ?? '';
      if (parts.length === 0) continue;
      if (chunk.includes('\u0000')) throw nulAt(file, line + 1 + parts.findIndex((p) => p.includes('\u0000')));
      yield { lines: parts, first: line + 1 };
      line += parts.length;
    }
  } catch (err) {
    if (err instanceof FatalError) throw err;
    throw new FatalError(`${file}: cannot read line ${line + 1}: ${(err as Error).message}`);
  } finally {
    stream.destroy();
  }
  if (rest !== '') {
    if (rest.includes('\u0000')) throw nulAt(file, line + 1);
    yield { lines: [rest], first: line + 1 };
  }
}

function nulAt(file: string, line: number): FatalError {
  return new FatalError(`${file} line ${line}: a NUL byte; PostgreSQL text cannot hold one (is the file damaged?)`);
}
