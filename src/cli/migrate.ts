/** `trellis migrate`: apply the project's pending migrations without serving. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, stdoutIsTty } from '../config.js';
import { migrate, openDatabase, readMigrationFiles, type MigrationFile } from '../db/index.js';
import { createLogger } from '../platform/logger.js';
import { loadOrCreateSecrets } from '../project/secrets.js';
import { lockDataDir, prepareDataDir, readRuntimeState, releaseDataDir } from '../project/state.js';
import { parseFlags } from './args.js';

export const migrateHelp = `Usage: trellis migrate [--dir D] [--dry-run]

Applies the pending migrations in D/supabase/migrations (default D: .) to the project's database:
DATABASE_URL when set, else the embedded one (through the running Trellis, or started for the
occasion). --dry-run lists the pending migrations and changes nothing.`;

export async function migrateCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('migrate', argv, { dir: { type: 'string' }, 'dry-run': { type: 'boolean' } });
  if (flags.help) {
    process.stdout.write(`${migrateHelp}\n`);
    return 0;
  }
  const config = loadConfig(flags);
  const log = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel, pretty: stdoutIsTty() });
  const dryRun = flags['dry-run'] === true;
  const report = (verb: string, files: readonly MigrationFile[]) => {
    const names = files.map((m) => `  ${path.basename(m.file)}`);
    process.stdout.write(
      names.length === 0
        ? `no migrations ${verb}; the database is up to date\n`
        : `${names.length} migration(s) ${verb}:\n${names.join('\n')}\n`,
    );
  };
  const hasCluster = await fs.access(path.join(config.dataDir, 'pg', 'PG_VERSION')).then(
    () => true,
    () => false,
  );
  if (dryRun && !config.databaseUrl && !hasCluster) {
    // No database yet: everything is pending, and a dry run must not create one to find that out.
    report('pending', await readMigrationFiles(config.migrationsDir, (m) => process.stdout.write(`${m}\n`)));
    return 0;
  }
  await prepareDataDir(config.dir, config.dataDir);

  // A running Trellis owns its embedded database: go through it instead of starting a second one.
  const running = config.databaseUrl ? undefined : await readRuntimeState(config.dataDir);
  const ownsFolder = !config.databaseUrl && !running;
  if (ownsFolder) await lockDataDir(config.dataDir);
  try {
    const secrets = await loadOrCreateSecrets(config.dataDir);
    const database = await openDatabase(config, secrets, log, running?.dbUrl);
    try {
      const result = await migrate(database.db, config.migrationsDir, {
        dryRun,
        onProgress: (m) => process.stdout.write(`${m}\n`),
        // A fresh database gets its seed whichever command migrates it first, as on a first start.
        seed: config.seed,
        buckets: config.storage.buckets,
      });
      if (result.schemaPending > 0)
        process.stdout.write(`Trellis's own schema: ${result.schemaPending} update(s) pending\n`);
      report(dryRun ? 'pending' : 'applied', dryRun ? result.pending : result.applied);
      if (result.seeded) process.stdout.write(`seed applied: ${result.seeded}\n`);
    } finally {
      await database.close();
    }
  } finally {
    if (ownsFolder) await releaseDataDir(config.dataDir);
  }
  return 0;
}
