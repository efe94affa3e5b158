import fs from 'node:fs/promises';
import pg from 'pg';
import { describe, expect, inject, test } from 'vitest';
import { postgresCpuSeconds, postmasterPid, procCpuSeconds } from '../../src/capacity/target.js';

/** A fixed amount of CPU work in one backend, whatever the machine's load. */
const burn = (client: pg.Client) => client.query('select sum(i) from generate_series(1, 2000000) i');

/** The CPU seconds a backend has used so far, read from its own /proc entry. */
async function backendCpu(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
  return procCpuSeconds(await fs.readFile(`/proc/${rows[0]?.pid}/stat`, 'utf8'), false) ?? NaN;
}

describe("PostgreSQL's CPU, split from the server's, read from /proc", () => {
  const url = inject('adminDatabaseUrl');

  test('counts a live backend and one that ended during the window', async () => {
    const postmaster = await postmasterPid(url);
    expect(postmaster).toBeGreaterThan(1);
    const stays = new pg.Client({ connectionString: url });
    const leaves = new pg.Client({ connectionString: url });
    await Promise.all([stays.connect(), leaves.connect()]);
    const spentBefore = (await backendCpu(stays)) + (await backendCpu(leaves));
    const before = (await postgresCpuSeconds(postmaster as number)) ?? NaN;
    await Promise.all([burn(stays), burn(leaves)]);
    const spent = (await backendCpu(stays)) + (await backendCpu(leaves)) - spentBefore;
    // The second backend exits: its time moves to the postmaster's reaped children.
    await leaves.end();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = (await postgresCpuSeconds(postmaster as number)) ?? NaN;
    await stays.end();
    expect(spent).toBeGreaterThan(0.05);
    // Both backends' work is in the sum (less a clock tick each), the ended one's too.
    expect(after - before).toBeGreaterThanOrEqual(spent - 0.02);
    expect(after - before).toBeLessThan(spent + 5);
  });

  test('a database it cannot find on this machine gives undefined', async () => {
    expect(await postmasterPid('postgres://nobody@127.0.0.1:9/none')).toBeUndefined();
  });
});
