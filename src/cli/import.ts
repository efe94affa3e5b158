/**
 * `trellis import <source>`: a SQLite database, a SQLite/D1 SQL dump, or a PostgreSQL dump of a
 * Supabase project into the project's database. The source's kind decides which importer runs;
 * flags that belong to the other kind are refused rather than ignored.
 */
import path from 'node:path';
import pg from 'pg';
import { loadConfig, type Config } from '../config.js';
import { migrate, openDatabase, type OpenDatabase } from '../db/index.js';
import { FatalError } from '../errors.js';
import {
  importPgDump,
  isPgDumpFile,
  prepareSqliteImport,
  renderPgDumpReport,
  type UsersOptions,
} from '../import/index.js';
import { createLogger } from '../platform/logger.js';
import { createObjectStore } from '../platform/store/index.js';
import { loadOrCreateSecrets } from '../project/secrets.js';
import { lockDataDir, prepareDataDir, readRuntimeState, releaseDataDir } from '../project/state.js';
import { parseFlags } from './args.js';

export const importHelp = `Usage: trellis import <source> [--dir D] [--db-url URL] [--dry-run]
         SQLite:          [--schema public] [--atomic] [--replace]
                          [--users-table T --email-column C --password-column C [--id-column id]]
         PostgreSQL dump: [--storage-dir FOLDER | --storage-s3 s3://bucket/prefix [--s3-endpoint URL] [--s3-region R]]

Imports <source> into the project's database (--db-url, else DATABASE_URL, else the embedded one of
D, default .: through the running Trellis, or started for the occasion). --dry-run prints the plan
and writes nothing.

A SQLite database file or a SQL dump of one (\`sqlite3 app.db .dump\`, \`wrangler d1 export\`): every
table gets row level security with no policy (nothing readable through the API until you add one),
its rows by COPY, its keys, indexes and foreign keys; types are chosen from every value, and each
decision is printed. --atomic makes the whole import one transaction (default: one per table);
--replace drops tables that exist already. --users-table moves an app's users into auth.users with
their bcrypt/argon2 hashes, so they sign in as before.

A PostgreSQL dump of a Supabase project (supabase db dump, its --data-only form, or pg_dump of the
whole database; plain SQL, gzip'd or not), in one transaction: the project's schemas and data;
auth.users (with their bcrypt passwords), identities, storage buckets and objects into Trellis's
tables; Supabase's own schemas, roles and unavailable extensions skipped and listed. Object files
come from --storage-dir (<bucket>/<name>) or --storage-s3 (credentials: AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY). Details: docs/import.md.`;

const SQLITE_FLAGS = ['schema', 'atomic', 'replace', 'users-table', 'email-column', 'password-column', 'id-column'];
const PG_DUMP_FLAGS = ['storage-dir', 'storage-s3', 's3-endpoint', 's3-region'];
type Flags = Record<string, string | boolean | undefined>;

export async function importCommand(argv: string[]): Promise<number> {
  const positional = argv[0] !== undefined && !argv[0].startsWith('-');
  const source = positional ? argv[0] : undefined;
  const flags = parseFlags('import', positional ? argv.slice(1) : argv, {
    dir: { type: 'string' },
    'db-url': { type: 'string' },
    'dry-run': { type: 'boolean' },
    schema: { type: 'string' },
    atomic: { type: 'boolean' },
    replace: { type: 'boolean' },
    'users-table': { type: 'string' },
    'email-column': { type: 'string' },
    'password-column': { type: 'string' },
    'id-column': { type: 'string' },
    'storage-dir': { type: 'string' },
    'storage-s3': { type: 'string' },
    's3-endpoint': { type: 'string' },
    's3-region': { type: 'string' },
  });
  if (flags.help) {
    process.stdout.write(`${importHelp}\n`);
    return 0;
  }
  if (source === undefined) throw new FatalError('name the file to import (see `trellis import --help`)');
  const pgDump = await isPgDumpFile(source);
  const foreign = (pgDump ? SQLITE_FLAGS : PG_DUMP_FLAGS).find((f) => flags[f] !== undefined);
  if (foreign)
    throw new FatalError(
      `only for ${pgDump ? 'SQLite sources' : 'PostgreSQL dumps'}; ${source} is ${pgDump ? 'a PostgreSQL dump' : 'not one'}`,
      `--${foreign}`,
    );
  return pgDump ? importPgDumpFile(source, flags) : importSqlite(source, flags);
}

async function importSqlite(source: string, flags: Flags): Promise<number> {
  const schema = typeof flags.schema === 'string' ? flags.schema : 'public';
  if (
    schema === '' ||
    schema.includes('\u0000') ||
    ['auth', 'storage', 'realtime', 'pg_catalog', 'information_schema'].includes(schema)
  )
    throw new FatalError(`"${schema}" cannot take imported tables (Trellis or PostgreSQL owns it)`, '--schema');
  const users = usersOptions(flags);
  const dryRun = flags['dry-run'] === true;
  const prepared = await prepareSqliteImport(source, {
    schema,
    dryRun,
    atomic: flags.atomic === true,
    replace: flags.replace === true,
    ...(users ? { users } : {}),
    out: (text) => process.stdout.write(text),
    progress: process.stderr,
  });
  try {
    if (dryRun) {
      await prepared.run(() => Promise.reject(new Error('a dry run does not connect')));
      return 0;
    }
    await withTarget(flags, async (config, database) => {
      // Trellis's own schema (auth.users, the API roles) must be there before tables join it.
      await migrate(database.db, config.migrationsDir, {
        dryRun: false,
        onProgress: (m) => process.stderr.write(`${m}\n`),
        seed: config.seed,
        buckets: config.storage.buckets,
      });
      // One connection of its own for the whole import: COPY needs a client outside the pool's
      // pipeline mode, and the session's settings (UTC, no statement timeout) leave with it.
      await prepared.run(async (fn) => {
        const client = new pg.Client({ connectionString: database.url, application_name: 'trellis import' });
        await client.connect();
        client.on('error', () => undefined);
        try {
          return await fn(client);
        } finally {
          await client.end().catch(() => undefined);
        }
      });
    });
    return 0;
  } finally {
    await prepared.close();
  }
}

async function importPgDumpFile(file: string, flags: Flags): Promise<number> {
  const dryRun = flags['dry-run'] === true;
  await withTarget(flags, async (config, database) => {
    // Trellis's own schema, not the project's migrations nor its seed: the dump brings the
    // project's schema and rows (and records the migrations it holds, see importPgDump).
    await migrate(database.db, path.join(config.dataDir, 'no-project-migrations'), {
      dryRun,
      onProgress: () => undefined,
    });
    const s3Url = typeof flags['storage-s3'] === 'string' ? flags['storage-s3'] : undefined;
    const dir = typeof flags['storage-dir'] === 'string' ? path.resolve(flags['storage-dir']) : undefined;
    const storage =
      s3Url !== undefined ? { s3: { url: s3Url, ...config.importS3 } } : dir !== undefined ? { dir } : undefined;
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
  });
  return 0;
}

/** The project's database for the length of `work`: --db-url, DATABASE_URL, the running server's, or the embedded one started here. */
async function withTarget(
  flags: Flags,
  work: (config: Config, database: OpenDatabase) => Promise<void>,
): Promise<void> {
  const config = loadConfig({ dir: flags.dir, 's3-endpoint': flags['s3-endpoint'], 's3-region': flags['s3-region'] });
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
      await work(config, database);
    } finally {
      await database.close();
    }
  } finally {
    if (ownsFolder) await releaseDataDir(config.dataDir);
  }
}

function usersOptions(flags: Flags): UsersOptions | undefined {
  const table = flags['users-table'];
  const email = flags['email-column'];
  const password = flags['password-column'];
  const id = flags['id-column'];
  if (table === undefined) {
    const stray = ['email-column', 'password-column', 'id-column'].find((f) => flags[f] !== undefined);
    if (stray) throw new FatalError('only with --users-table', `--${stray}`);
    return undefined;
  }
  if (typeof table !== 'string' || typeof email !== 'string' || typeof password !== 'string')
    throw new FatalError('needs --email-column and --password-column too', '--users-table');
  return { table, emailColumn: email, passwordColumn: password, idColumn: typeof id === 'string' ? id : 'id' };
}
