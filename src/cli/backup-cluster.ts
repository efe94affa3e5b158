/** How `trellis backup` reaches the embedded cluster: through the running Trellis, or started for the occasion. */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { openDatabase } from '../db/index.js';
import { FatalError } from '../errors.js';
import { createLogger } from '../platform/logger.js';
import { progress } from '../platform/progress.js';
import { readSecrets } from '../project/secrets.js';
import { lockDataDir, readRuntimeState, releaseDataDir } from '../project/state.js';
import type { BackupProgress } from '../backup/index.js';

export async function withEmbeddedCluster<T>(config: Config, work: (url: string) => Promise<T>): Promise<T> {
  const log = createLogger({ level: 'warn', pretty: false });
  const running = await readRuntimeState(config.dataDir);
  if (running) {
    return work(running.dbUrl);
  }
  const hasCluster = await fs.access(path.join(config.dataDir, 'pg', 'PG_VERSION')).then(
    () => true,
    () => false,
  );
  const secrets = await readSecrets(config.dataDir);
  if (!hasCluster || !secrets)
    throw new FatalError(`no database in ${config.dataDir} yet: run \`trellis start\` or \`trellis migrate\` first`);
  await lockDataDir(config.dataDir);
  try {
    const database = await openDatabase(config, secrets, log);
    try {
      return await work(database.url);
    } finally {
      await database.close();
    }
  } finally {
    await releaseDataDir(config.dataDir);
  }
}

/** Progress bars on stderr for the backup module's long steps. */
export const cliProgress: BackupProgress = {
  start(label, total, unit) {
    const bar = progress(label, { total, unit });
    return { tick: (n) => bar.tick(n), done: (note) => bar.done(note) };
  },
  note(message) {
    process.stderr.write(`${message}\n`);
  },
};
