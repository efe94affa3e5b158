/** prune runs under the backup lock: an incomplete backup it sees is then a dead one, not one in progress. */
import pg from 'pg';
import { tryBackupLock } from '../db/index.js';
import { FatalError } from '../errors.js';

export async function tryLockFor<T>(url: string, work: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    if (!(await tryBackupLock(client)))
      throw new FatalError('a backup of this database is running; prune when it ends');
    return await work();
  } finally {
    await client.end().catch(() => undefined);
  }
}
