/**
 * The data folder's runtime state: `.trellis/trellis.pid` is both the lock that keeps two Trellis
 * processes off one data folder and the record `trellis status` reads (API URL, database URL).
 */
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { FatalError, errorMessage } from '../errors.js';

const runtimeState = z.object({
  pid: z.number().int().positive(),
  apiUrl: z.string(),
  dbUrl: z.string(),
  /** The JWT secret in effect (JWT_SECRET or the generated one): `status` must print what the server uses. */
  jwtSecret: z.string(),
  startedAt: z.string(),
});
export type RuntimeState = z.infer<typeof runtimeState>;

const STATE_FILE = 'trellis.pid';

/** Creates the data folder (0711: the embedded database's user must be able to enter it). */
export async function prepareDataDir(dir: string, dataDir: string): Promise<void> {
  try {
    const stat = await fs.stat(dir);
    if (!stat.isDirectory()) throw new FatalError(`${dir} is not a folder`, '--dir');
    await fs.mkdir(dataDir, { recursive: true, mode: 0o711 });
    await fs.access(dataDir, fs.constants.W_OK);
    await fs.chmod(dataDir, 0o711);
  } catch (err) {
    if (err instanceof FatalError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FatalError(`${dir} does not exist`, '--dir');
    throw new FatalError(`cannot write ${dataDir}: ${errorMessage(err)}`, '--dir');
  }
}

/** Takes the data folder for this process; fails if a live Trellis holds it. */
export async function lockDataDir(dataDir: string): Promise<void> {
  const file = path.join(dataDir, STATE_FILE);
  // Written aside and linked into place, so a reader never sees a half-written lock.
  const temp = `${file}.${process.pid}.new`;
  await fs.writeFile(temp, JSON.stringify({ pid: process.pid }), { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fs.link(temp, file);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
          throw new FatalError(`cannot write ${file}: ${errorMessage(err)}`);
      }
      const holder = await readHolderPid(file);
      if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
        throw new FatalError(`another Trellis (pid ${holder}) is already running on ${dataDir}`);
      }
      // The holder died without cleaning up (kill -9): the lock is stale. Move it aside under a name
      // of our own, then check that what we moved is still the stale lock and not one another
      // starting process just took over.
      const aside = `${file}.${process.pid}.stale`;
      try {
        await fs.rename(file, aside);
      } catch {
        continue;
      }
      const moved = await readHolderPid(aside);
      if (moved !== holder && moved !== undefined && isAlive(moved)) {
        await fs.link(aside, file).catch(() => undefined);
        await fs.rm(aside, { force: true });
        throw new FatalError(`another Trellis (pid ${moved}) is starting on ${dataDir}`);
      }
      await fs.rm(aside, { force: true });
    }
    throw new FatalError(`cannot lock ${dataDir}: another process keeps taking it`);
  } finally {
    await fs.rm(temp, { force: true });
  }
}

export async function writeRuntimeState(dataDir: string, state: RuntimeState): Promise<void> {
  const file = path.join(dataDir, STATE_FILE);
  const temp = `${file}.tmp`;
  await fs.writeFile(temp, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  await fs.rename(temp, file);
}

/** The state of the Trellis running on this data folder, or undefined when none is. */
export async function readRuntimeState(dataDir: string): Promise<RuntimeState | undefined> {
  const text = await fs.readFile(path.join(dataDir, STATE_FILE), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = runtimeState.safeParse(json);
  return parsed.success && isAlive(parsed.data.pid) ? parsed.data : undefined;
}

export async function releaseDataDir(dataDir: string): Promise<void> {
  const file = path.join(dataDir, STATE_FILE);
  if ((await readHolderPid(file)) === process.pid) await fs.rm(file, { force: true });
}

async function readHolderPid(file: string): Promise<number | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  try {
    const pid = (JSON.parse(text) as { pid?: unknown }).pid;
    return typeof pid === 'number' ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `pid` is a live Node.js process (after a crash and reboot, the pid may be another program's). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return /node|trellis/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true; // no /proc (macOS): trust the signal check
  }
}
