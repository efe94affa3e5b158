/**
 * A PostgreSQL of the test's own (the embedded launcher on a temporary folder), which the test may
 * freeze (SIGSTOP), thaw and stop: never the shared server the rest of the suite uses.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmbedded, type EmbeddedDatabase } from '../../../src/db/index.js';

export interface OwnPostgres {
  readonly url: string;
  /** SIGSTOP to the postmaster and every backend: a hung server, as a black-holed network looks. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  stop(): Promise<void>;
  /** Thaws, stops and removes the folder (for afterAll). */
  remove(): Promise<void>;
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-own-pg-'));
  // The launcher runs PostgreSQL as the unprivileged `postgres` user when the test runs as root.
  await fs.chmod(dataDir, 0o755);
  const embedded: EmbeddedDatabase = await startEmbedded({
    dataDir,
    password: 'own-postgres-password',
    onProgress: () => undefined,
  });
  const pidFile = path.join(dataDir, 'pg', 'postmaster.pid');
  const postmaster = Number((await fs.readFile(pidFile, 'utf8')).split('\n')[0]);
  let frozen: number[] = [];
  const signal = (pids: number[], sig: NodeJS.Signals) => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // A backend that exited meanwhile.
      }
    }
  };
  const thaw = async () => {
    signal(frozen, 'SIGCONT');
    frozen = [];
  };
  return {
    url: embedded.url,
    async freeze() {
      // The backends known now, then the postmaster (so it forks no more), then any it forked meanwhile.
      const before = await childrenOf(postmaster);
      signal(before, 'SIGSTOP');
      signal([postmaster], 'SIGSTOP');
      const late = (await childrenOf(postmaster)).filter((pid) => !before.includes(pid));
      signal(late, 'SIGSTOP');
      frozen = [...before, postmaster, ...late];
    },
    thaw,
    stop: () => embedded.stop(),
    async remove() {
      await thaw();
      await embedded.stop().catch(() => undefined);
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The processes whose parent is `pid` (PostgreSQL's backends and workers), from /proc. */
async function childrenOf(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid …; comm may hold spaces and parentheses: read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) children.push(Number(entry));
  }
  return children;
}
