/**
 * CPU time of the processes in a benchmark, from /proc (Linux): this process (the load generator),
 * the Trellis server, and its embedded PostgreSQL (the postmaster and every backend under it), so
 * a figure can say which of them a run was spending.
 */
import fs from 'node:fs';

export interface CpuSplit {
  readonly generator: number;
  readonly server: number;
  readonly postgres: number;
}

const TICKS = 100;

/** A process's own CPU seconds, and those of its children it has reaped (a PostgreSQL backend that exited). */
function stat(pid: number): { ppid: number; seconds: number; reaped: number; name: string } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const name = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(fields[1]),
      seconds: (Number(fields[11]) + Number(fields[12])) / TICKS,
      reaped: (Number(fields[13]) + Number(fields[14])) / TICKS,
      name,
    };
  } catch {
    return undefined;
  }
}

/** The embedded PostgreSQL's postmaster: the first line of postmaster.pid under the project's data folder. */
export function postmasterPid(projectDir: string): number | undefined {
  const find = (dir: string, depth: number): string | undefined => {
    if (depth > 3) return undefined;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.isFile() && entry.name === 'postmaster.pid') return `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        const found = find(`${dir}/${entry.name}`, depth + 1);
        if (found) return found;
      }
    }
    return undefined;
  };
  const file = find(`${projectDir}/.trellis`, 0);
  const pid = file ? Number(fs.readFileSync(file, 'utf8').split('\n')[0]) : NaN;
  return Number.isInteger(pid) ? pid : undefined;
}

/** CPU seconds used so far by the generator, the server `serverPid`, and PostgreSQL (`postmaster` and its backends). */
export function cpuNow(serverPid: number, postmaster: number | undefined): CpuSplit {
  const all = fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => ({ pid: Number(d), ...stat(Number(d)) }))
    .filter(
      (p): p is { pid: number; ppid: number; seconds: number; reaped: number; name: string } => p.seconds !== undefined,
    );

  const children = new Map<number, number[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const byPid = new Map(all.map((p) => [p.pid, p]));
  // The postmaster and every process under it (backends, walwriter, checkpointer, …), and the
  // backends that exited: their CPU moves into the postmaster's reaped time, so a connection closed
  // between two readings does not make PostgreSQL's share shrink.
  const root = postmaster === undefined ? undefined : byPid.get(postmaster);
  let postgres = postmaster === undefined ? NaN : root ? root.seconds + root.reaped : 0;
  const walk = (pid: number): void => {
    for (const child of children.get(pid) ?? []) {
      postgres += byPid.get(child)?.seconds ?? 0;
      walk(child);
    }
  };
  if (postmaster !== undefined) walk(postmaster);
  const usage = process.cpuUsage();
  return { generator: (usage.user + usage.system) / 1e6, server: byPid.get(serverPid)?.seconds ?? 0, postgres };
}

/** The CPU each part spent between two readings, per operation, in milliseconds. */
export function cpuPerOp(before: CpuSplit, after: CpuSplit, ops: number): CpuSplit {
  const per = (a: number, b: number) => (ops > 0 ? ((b - a) * 1000) / ops : NaN);
  return {
    generator: per(before.generator, after.generator),
    server: per(before.server, after.server),
    postgres: per(before.postgres, after.postgres),
  };
}

/** The median of each part over several readings (the rounds of a benchmark). */
export function medianCpu(splits: readonly CpuSplit[]): CpuSplit {
  const mid = (pick: (c: CpuSplit) => number) => splits.map(pick).sort((a, b) => a - b)[splits.length >> 1] ?? NaN;
  return { generator: mid((c) => c.generator), server: mid((c) => c.server), postgres: mid((c) => c.postgres) };
}

/** `root` and every process under it except the PostgreSQL ones (`postgres` names): a `--workers N` server's primary and its workers. */
export function nodeTree(root: number): number[] {
  const all = fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => ({ pid: Number(d), ...stat(Number(d)) }))
    .filter(
      (p): p is { pid: number; ppid: number; seconds: number; reaped: number; name: string } => p.seconds !== undefined,
    );
  const children = new Map<number, typeof all>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const pids = all.some((p) => p.pid === root) ? [root] : [];
  const walk = (pid: number): void => {
    for (const child of children.get(pid) ?? []) {
      if (child.name === 'postgres') continue;
      pids.push(child.pid);
      walk(child.pid);
    }
  };
  walk(root);
  return pids;
}

/** CPU seconds of the processes of nodeTree(root). */
export function nodeTreeSeconds(root: number): number {
  return nodeTree(root).reduce((sum, pid) => sum + (stat(pid)?.seconds ?? 0), 0);
}

/** Resident bytes of one process (VmRSS), 0 once it is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
