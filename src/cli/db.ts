/** `trellis db reset`: the project's database made anew, its migrations and seed applied again. */
import { loadConfig } from '../config.js';
import {
  dropProjectSchemas,
  migrate,
  openDatabase,
  projectSchemas,
  redactUrl,
  removeEmbeddedCluster,
} from '../db/index.js';
import { FatalError } from '../errors.js';
import { createLogger } from '../platform/logger.js';
import { loadOrCreateSecrets } from '../project/secrets.js';
import { lockDataDir, prepareDataDir, readRuntimeState, releaseDataDir } from '../project/state.js';
import { parseFlags } from './args.js';

export const dbHelp = `Usage: trellis db reset [--dir D] [--yes]

Resets the project's database as \`supabase db reset\` does: drops its data, then applies
D/supabase/migrations and the seed (D/supabase/seed.sql, or [db.seed] sql_paths of
D/supabase/config.toml) again (default D: .). The embedded database is made
anew; with DATABASE_URL every schema of that database is dropped, which it refuses without --yes.
Refused while a Trellis is running on D.`;

export async function dbCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(`${dbHelp}\n`);
    return 0;
  }
  if (sub !== 'reset') throw new FatalError(`unknown db command "${sub}" (commands: reset)`);
  return resetCommand(rest);
}

async function resetCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('db reset', argv, { dir: { type: 'string' }, yes: { type: 'boolean' } });
  if (flags.help) {
    process.stdout.write(`${dbHelp}\n`);
    return 0;
  }
  const config = loadConfig(flags);
  const progress = (message: string) => process.stdout.write(`${message}\n`);
  await prepareDataDir(config.dir, config.dataDir);
  const running = await readRuntimeState(config.dataDir);
  if (running) {
    throw new FatalError(
      `Trellis (pid ${running.pid}) is running on ${config.dir}; stop it before resetting its database`,
    );
  }
  // Held throughout, so no start can open the database half way through the reset.
  await lockDataDir(config.dataDir);
  try {
    const secrets = await loadOrCreateSecrets(config.dataDir);
    const log = createLogger({ level: 'warn', pretty: false });
    if (!config.databaseUrl) {
      progress(`removing the embedded database in ${config.dataDir}`);
      await removeEmbeddedCluster(config.dataDir, progress);
      progress('starting a new embedded database');
    }
    const database = await openDatabase(config, secrets, log);
    try {
      if (config.databaseUrl) {
        const schemas = await projectSchemas(database.db);
        const target = redactUrl(config.databaseUrl);
        if (flags.yes !== true) {
          throw new FatalError(
            `this drops every schema of ${target} (${schemas.join(', ')}) with all their data, and the supabase_realtime publication; run again with --yes to go ahead`,
            'DATABASE_URL',
          );
        }
        progress(`dropping schemas ${schemas.join(', ')} of ${target}`);
        await dropProjectSchemas(database.db, schemas);
      }
      progress('applying migrations');
      const result = await migrate(database.db, config.migrationsDir, {
        dryRun: false,
        onProgress: progress,
        seed: config.seed,
        buckets: config.storage.buckets,
      });
      progress(
        `database reset: ${result.applied.length} migration(s) applied, ${result.seeded ? `seed ${result.seeded} applied` : 'no seed file'}`,
      );
    } finally {
      await database.close();
    }
  } finally {
    await releaseDataDir(config.dataDir);
  }
  return 0;
}
