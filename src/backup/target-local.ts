/**
 * A backup target in a folder. Objects are written aside and renamed into place after an fsync; a
 * backup is made in `<id>.partial/` and renamed to `<id>/` once its manifest is on disk, so a
 * folder named like a backup id is always complete.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { sha256Meter } from '../platform/sha256-meter.js';
import { BACKUP_ID, MissingBackupObject, type BackupListing, type BackupTarget, type TargetObject } from './target.js';

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function createLocalTarget(root: string): Promise<BackupTarget> {
  const fresh = !(await fsp.stat(root).catch(() => undefined));
  await fsp.mkdir(root, { recursive: true, mode: 0o700 });
  // Backups hold the project's secrets: a default folder inside the project must never reach git.
  if (fresh) await fsp.writeFile(path.join(root, '.gitignore'), '*\n');
  const fileOf = (key: string) => {
    if (key.split('/').some((s) => s === '' || s === '.' || s === '..') || key.includes('\0'))
      throw new Error(`bad backup object key ${JSON.stringify(key)}`);
    return path.join(root, ...key.split('/'));
  };
  const walk = async (rel: string, out: TargetObject[]) => {
    const entries = await fsp.readdir(path.join(root, rel), { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const key = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(key, out);
      else if (e.isFile() && !e.name.includes('.tmp-')) {
        const st = await fsp.stat(path.join(root, key)).catch(() => undefined);
        if (st) out.push({ key, size: st.size, modified: st.mtime });
      }
    }
  };
  return {
    where: root,
    async put(key, body) {
      const file = fileOf(key);
      await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      const temp = `${file}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
      const counter = sha256Meter();
      try {
        await pipeline(body, counter, fs.createWriteStream(temp, { flags: 'wx', mode: 0o600, flush: true }));
        await fsp.rename(temp, file);
        // The rename is durable only once its folder is: callers delete their copy (a shipped WAL
        // segment) when put returns.
        await fsyncDir(path.dirname(file));
      } catch (err) {
        await fsp.rm(temp, { force: true });
        throw err;
      }
      return counter.result();
    },
    async get(key) {
      const handle = await fsp.open(fileOf(key), 'r').catch((err: NodeJS.ErrnoException) => {
        throw err.code === 'ENOENT' || err.code === 'ENOTDIR' ? new MissingBackupObject(key) : err;
      });
      return handle.createReadStream();
    },
    async list(prefix) {
      const out: TargetObject[] = [];
      // Walk only the folder the prefix names, then filter on the rest.
      const slash = prefix.lastIndexOf('/');
      await walk(slash === -1 ? '' : prefix.slice(0, slash), out);
      return out.filter((o) => o.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : 1));
    },
    async delete(keys) {
      await Promise.all(keys.map((k) => fsp.rm(fileOf(k), { force: true })));
    },
    async exists(key) {
      return fsp.stat(fileOf(key)).then(
        (st) => st.isFile(),
        () => false,
      );
    },
    stagingKey: (id, piece) => `${id}.partial/${piece}`,
    async complete(id, manifest) {
      const staging = path.join(root, `${id}.partial`);
      const file = path.join(staging, 'manifest.json');
      const handle = await fsp.open(file, 'wx', 0o600);
      try {
        await handle.writeFile(manifest);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsyncDir(staging);
      await fsp.rename(staging, path.join(root, id));
      await fsyncDir(root);
    },
    async backups() {
      const names = await fsp.readdir(root).catch(() => [] as string[]);
      const out: BackupListing[] = [];
      for (const name of names) {
        const partial = name.endsWith('.partial');
        const id = partial ? name.slice(0, -'.partial'.length) : name;
        if (!BACKUP_ID.test(id)) continue;
        const complete =
          !partial && (await fsp.stat(path.join(root, name, 'manifest.json')).catch(() => undefined)) !== undefined;
        out.push({ id, complete });
      }
      return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },
    async removeBackup(id, complete) {
      await fsp.rm(path.join(root, complete ? id : `${id}.partial`), { recursive: true, force: true });
    },
    close: async () => undefined,
  };
}
