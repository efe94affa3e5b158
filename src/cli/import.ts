/**
 * `trellis import <dump.sql>`: a Supabase project's PostgreSQL dump into the project's database.
 * (This branch's minimal command; the full one, with SQLite sources, detects a PostgreSQL dump
 * and calls importPgDump the same way.)
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../config.js';
import { migrate, openDatabase } from '../db/index.js';
import { FatalError } from '../errors.js';
import { importPgDump, renderPgDumpReport } from '../import/index.js';
import { createLogger } from '../platform/logger.js';
import { createObjectStore } from '../platform/store/index.js';
import { loadOrCreateSecrets } from '../project/secrets.js';
import { lockDataDir, prepareDataDir, readRuntimeState, releaseDataDir } from '../project/state.js';
import { parseFlags } from './args.js';

export const importHelp = `Usage: trellis import <dump.sql[.gz]> [--dir D] [--db-url URL] [--dry-run]
                      [--storage-dir FOLDER | --storage-s3 s3://bucket/prefix [--s3-endpoint URL] [--s3-region R]]

Imports a PostgreSQL dump of a Supabase project (supabase db dump, supabase db dump --data-only,
or pg_dump of the whole database; plain SQL, gzip'd or not) into the project's database, in one
transaction: the project's schemas and data; auth.users (with their bcrypt passwords), identities,
storage buckets and objects into Trellis's tables; Supabase's own schemas, roles and unavailable
extensions skipped and listed. Object files come from --storage-dir (<bucket>/<name>) or
--storage-s3 (credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). --dry-run prints the plan.`;

export async function importCommand(argv: string[]): Promise<number> {
  const file = argv[0] !== undefined && !argv[0].startsWith('-') ? argv[0] : undefined;
  const flags = parseFlags('import', file === undefined ? argv : argv.slice(1), {
    dir: { type: 'string' },
    'db-url': { type: 'string' },
    'dry-run': { type: 'boolean' },
    'storage-dir': { type: 'string' },
    'storage-s3': { type: 'string' },
    's3-endpoint': { type: 'string' },
    's3-region': { type: 'string' },
  });
  if (flags.help) {
    process.stdout.write(`${importHelp}\n`);
    return 0;
  }
  if (file === undefined) throw new FatalError('name the dump file to import (see `trellis import --help`)');
  // The file is checked before a database is opened (or an embedded one started) for nothing.
  await fs.access(file).catch(() => {
    throw new FatalError(`${file}: no such file`);
  });
  const dryRun = flags['dry-run'] === true;
  const config = loadConfig(flags);
  const log = createLogger({ level: 'warn', pretty: false });
  const dbUrl = typeof flags['db-url'] === 'string' ? flags['db-url'] : config.databaseUrl;
  if (!dbUrl) await prepareDataDir(config.dir, config.dataDir);
  // A running Trellis owns its embedded database: go through it instead of starting a second one.
  const running = dbUrl ? undefined : await readRuntimeState(config.dataDir);
  const ownsFolder = !dbUrl && !running;
  if (ownsFolder) await lockDataDir(config.dataDir);
  try {
    // Only the embedded database reads the stored password; a URL carries its own.
    const secrets = dbUrl ? { jwtSecret: '', dbPassword: '' } : await loadOrCreateSecrets(config.dataDir);
    const database = await openDatabase({ ...config, databaseUrl: dbUrl }, secrets, log, running?.dbUrl);
    try {
      // Trellis's own schema, not the project's migrations nor its seed: the dump brings the
      // project's schema and rows (and records the migrations it holds, see importPgDump).
      await migrate(database.db, path.join(config.dataDir, 'no-project-migrations'), {
        dryRun,
        onProgress: () => undefined,
      });
      const s3Url = typeof flags['storage-s3'] === 'string' ? flags['storage-s3'] : undefined;
      const dir = typeof flags['storage-dir'] === 'string' ? path.resolve(flags['storage-dir']) : undefined;
      const storage =
        s3Url !== undefined
          ? {
              s3: {
                url: s3Url,
                region: config.importS3.region,
                endpoint: config.importS3.endpoint,
                accessKeyId: config.importS3.accessKeyId,
                secretAccessKey: config.importS3.secretAccessKey,
              },
            }
          : dir !== undefined
            ? { dir }
            : undefined;
      const store = storage && !dryRun ? await createObjectStore(config) : undefined;
      try {
        const report = await importPgDump({
          file,
          dbUrl: database.url,
          storage,
          store,
          dryRun,
          migrationsDir: config.migrationsDir,
          log: (line) => process.stderr.write(`${line}\n`),
        });
        process.stdout.write(renderPgDumpReport(report));
      } finally {
        await store?.close();
      }
    } finally {
      await database.close();
    }
  } finally {
    if (ownsFolder) await releaseDataDir(config.dataDir);
  }
  return 0;
}
