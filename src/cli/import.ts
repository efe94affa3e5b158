/** `trellis import <source>`: a SQLite database, a SQLite/D1 SQL dump or a PostgreSQL dump into the project. */
import pg from 'pg';
import { loadConfig } from '../config.js';
import { migrate, openDatabase } from '../db/index.js';
import { FatalError } from '../errors.js';
import { importPgDump, prepareSqliteImport, type UsersOptions } from '../import/index.js';
import { createLogger } from '../platform/logger.js';
import { loadOrCreateSecrets } from '../project/secrets.js';
import { lockDataDir, prepareDataDir, readRuntimeState, releaseDataDir } from '../project/state.js';
import { parseFlags } from './args.js';

export const importHelp = `Usage: trellis import <source> [--dir D] [--schema public] [--dry-run] [--atomic] [--replace]
                      [--users-table T --email-column C --password-column C [--id-column id]]

Imports <source> into the project's database (DATABASE_URL, else the embedded one of D, default
.: through the running Trellis, or started for the occasion). <source> is a SQLite database file,
a SQL dump of one (\`sqlite3 app.db .dump\`, \`wrangler d1 export\`) or a PostgreSQL dump. Every
table gets row level security with no policy (nothing readable through the API until you add one),
its rows by COPY, its keys, indexes and foreign keys; types are chosen from every value, and each
decision is printed. --dry-run prints the plan and writes nothing; --atomic makes the whole import
one transaction (default: one per table); --replace drops tables that exist already.
--users-table moves an app's users into auth.users with their bcrypt/argon2 hashes, so they sign
in as before. Details: docs/import.md.`;

export async function importCommand(argv: string[]): Promise<number> {
  const positional = argv[0] !== undefined && !argv[0].startsWith('-');
  const source = positional ? argv[0] : undefined;
  const rest = positional ? argv.slice(1) : argv;
  const flags = parseFlags('import', rest, {
    dir: { type: 'string' },
    schema: { type: 'string' },
    'dry-run': { type: 'boolean' },
    atomic: { type: 'boolean' },
    replace: { type: 'boolean' },
    'users-table': { type: 'string' },
    'email-column': { type: 'string' },
    'password-column': { type: 'string' },
    'id-column': { type: 'string' },
  });
  if (flags.help) {
    process.stdout.write(`${importHelp}\n`);
    return 0;
  }
  if (source === undefined) throw new FatalError('name the file to import (see `trellis import --help`)');
  const schema = typeof flags.schema === 'string' ? flags.schema : 'public';
  if (
    schema === '' ||
    schema.includes('\u0000') ||
    ['auth', 'storage', 'realtime', 'pg_catalog', 'information_schema'].includes(schema)
  )
    throw new FatalError(`"${schema}" cannot take imported tables (Trellis or PostgreSQL owns it)`, '--schema');
  const users = usersOptions(flags);
  const options = {
    schema,
    dryRun: flags['dry-run'] === true,
    atomic: flags.atomic === true,
    replace: flags.replace === true,
    ...(users ? { users } : {}),
  };
  const prepared = await prepareSqliteImport(source, {
    ...options,
    out: (text) => process.stdout.write(text),
    progress: process.stderr,
  });
  try {
    if (prepared.kind === 'pg-dump') return importPgDump();
    if (options.dryRun) {
      await prepared.run(() => Promise.reject(new Error('a dry run does not connect')));
      return 0;
    }
    const config = loadConfig({ dir: flags.dir });
    const log = createLogger({ level: 'warn', pretty: false });
    await prepareDataDir(config.dir, config.dataDir);
    // A running Trellis owns its embedded database: go through it instead of starting a second one.
    const running = config.databaseUrl ? undefined : await readRuntimeState(config.dataDir);
    const ownsFolder = !config.databaseUrl && !running;
    if (ownsFolder) await lockDataDir(config.dataDir);
    try {
      const secrets = await loadOrCreateSecrets(config.dataDir);
      const database = await openDatabase(config, secrets, log, running?.dbUrl);
      try {
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
      } finally {
        await database.close();
      }
    } finally {
      if (ownsFolder) await releaseDataDir(config.dataDir);
    }
    return 0;
  } finally {
    await prepared.close();
  }
}

function usersOptions(flags: Record<string, string | boolean | undefined>): UsersOptions | undefined {
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
