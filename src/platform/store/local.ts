/**
 * Objects on local disk under the data folder. A key maps to a file named by hashes, never by the
 * user's object name, so no name can reach outside the folder or collide with a directory.
 * Writes go to `.tmp/` on the same filesystem and are renamed into place once complete.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { countingHasher } from './hash.js';
import { MissingObject, type ByteRange, type ObjectKey, type ObjectStore, type WriteResult } from './store.js';

export async function createLocalStore(root: string): Promise<ObjectStore> {
  const tmp = path.join(root, '.tmp');
  await fsp.mkdir(tmp, { recursive: true });
  await sweepLeftovers(tmp);

  const bucketDir = (bucket: string) =>
    path.join(root, crypto.createHash('sha256').update(bucket).digest('hex').slice(0, 32));
  const fileOf = (key: ObjectKey) => {
    const name = crypto.createHash('sha256').update(key.name).digest('hex');
    const version = safeVersion(key);
    return path.join(bucketDir(key.bucket), name.slice(0, 2), `${name}.${version}`);
  };

  return {
    async write(key, body, { maxBytes, before }): Promise<WriteResult> {
      // Named by the version: removing the key (the orphan sweep after a crash) removes it too.
      const temp = path.join(tmp, `${safeVersion(key)}.${crypto.randomUUID()}`);
      const hasher = countingHasher(maxBytes);
      try {
        // flush: the bytes reach the disk before the rename makes them the object (and before the
        // row that points at them commits).
        await pipeline(body, hasher, fs.createWriteStream(temp, { flags: 'wx', flush: true }));
        await before;
        const final = fileOf(key);
        await fsp.mkdir(path.dirname(final), { recursive: true });
        await fsp.rename(temp, final);
        return hasher.result();
      } catch (err) {
        await fsp.rm(temp, { force: true });
        throw err;
      }
    },
    async adopt(key, file, { maxBytes, before }): Promise<WriteResult> {
      // Hashed (and bounded) as a write would; then flushed, so the link never makes a file whose
      // bytes are still only in the page cache the object. A link, not a rename: the file's owner
      // (the resumable store) still reads its state until it removes it.
      const hasher = countingHasher(maxBytes);
      await pipeline(fs.createReadStream(file), hasher, new Writable({ write: (_chunk, _enc, done) => done() }));
      const handle = await fsp.open(file, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await before;
      const final = fileOf(key);
      await fsp.mkdir(path.dirname(final), { recursive: true });
      await fsp.link(file, final).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EXDEV' && err.code !== 'EPERM') throw err;
        // Another filesystem (or one without hard links): a copy, made whole in .tmp first.
        const temp = path.join(tmp, crypto.randomUUID());
        await fsp.copyFile(file, temp);
        await fsp.rename(temp, final);
      });
      return hasher.result();
    },
    async read(key, range?: ByteRange): Promise<Readable> {
      const file = fileOf(key);
      const handle = await fsp.open(file, 'r').catch((err: NodeJS.ErrnoException) => {
        throw err.code === 'ENOENT' ? new MissingObject() : err;
      });
      return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
    },
    async copy(from, to) {
      const target = fileOf(to);
      await fsp.mkdir(path.dirname(target), { recursive: true });
      const temp = path.join(tmp, crypto.randomUUID());
      try {
        await fsp.copyFile(fileOf(from), temp, fs.constants.COPYFILE_FICLONE);
        await fsp.rename(temp, target);
      } catch (err) {
        await fsp.rm(temp, { force: true });
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingObject();
        throw err;
      }
    },
    async remove(keys) {
      await Promise.all(keys.map((key) => fsp.rm(fileOf(key), { force: true })));
    },
    async removeStaged(keys) {
      const versions = new Set(keys.map((key) => `${safeVersion(key)}.`));
      if (versions.size === 0) return;
      for (const name of await fsp.readdir(tmp).catch(() => [] as string[])) {
        const dot = name.indexOf('.');
        if (dot > 0 && versions.has(name.slice(0, dot + 1))) await fsp.rm(path.join(tmp, name), { force: true });
      }
    },
    locate: fileOf,
    async *list(bucket) {
      const dir = bucketDir(bucket);
      for (const shard of await fsp.readdir(dir).catch(() => [] as string[])) {
        for (const name of await fsp.readdir(path.join(dir, shard)).catch(() => [] as string[])) {
          const file = path.join(dir, shard, name);
          const st = await fsp.stat(file).catch(() => undefined);
          if (st?.isFile()) yield { locator: file, size: st.size };
        }
      }
    },
    close: async () => undefined,
    location: `file://${path.resolve(root)}`,
  };
}

const safeVersion = (key: ObjectKey) => key.version.replace(/[^A-Za-z0-9-]/g, '');

/**
 * Leftovers of a process that died mid-upload: never renamed into place, so never referenced. Only
 * files untouched for an hour go: another process on the same folder (a running server while
 * `trellis import` copies files in) may be writing the young ones, and a write in progress keeps
 * touching its file.
 */
const LEFTOVER_AGE_MS = 60 * 60 * 1000;

async function sweepLeftovers(tmp: string): Promise<void> {
  const now = Date.now();
  for (const name of await fsp.readdir(tmp).catch(() => [] as string[])) {
    const file = path.join(tmp, name);
    const st = await fsp.stat(file).catch(() => undefined);
    if (st && now - st.mtimeMs > LEFTOVER_AGE_MS) await fsp.rm(file, { recursive: true, force: true });
  }
}
