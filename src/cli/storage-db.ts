/** The project's database for `trellis storage` commands (through a running Trellis when one owns the embedded database). */
import type { Config } from '../config.js';
import { isPgError, openDatabase, type Db } from '../db/index.js';
import { FatalError } from '../errors.js';
import { createLogger } from '../platform/logger.js';
import { loadOrCreateSecrets } from '../project/secrets.js';
import { lockDataDir, prepareDataDir, readRuntimeState, releaseDataDir } from '../project/state.js';

/** The project's database (through the running Trellis when one owns the embedded database). */
export async function withDatabase(
  config: Config,
  fn: (db: Db, jwtSecret: string) => Promise<number>,
): Promise<number> {
  await prepareDataDir(config.dir, config.dataDir);
  const running = config.databaseUrl ? undefined : await readRuntimeState(config.dataDir);
  const ownsFolder = !config.databaseUrl && !running;
  if (ownsFolder) await lockDataDir(config.dataDir);
  try {
    const secrets = await loadOrCreateSecrets(config.dataDir);
    const database = await openDatabase(
      config,
      secrets,
      createLogger({ level: 'warn', pretty: false }),
      running?.dbUrl,
    );
    try {
      return await fn(database.db, config.jwtSecret ?? secrets.jwtSecret);
    } catch (err) {
      if (isPgError(err) && err.code === '42P01')
        throw new FatalError(
          'the database has no storage tables yet (or an older schema): start Trellis or run `trellis migrate` first',
        );
      throw err;
    } finally {
      // An embedded database this command started stops with it; a running Trellis's is only left.
      await database.close();
    }
  } finally {
    if (ownsFolder) await releaseDataDir(config.dataDir);
  }
}
