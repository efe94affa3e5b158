/** `trellis gen types typescript`: the Supabase CLI's `Database` type for the project's database. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../config.js';
import { openDatabase, readCatalog } from '../db/index.js';
import { FatalError } from '../errors.js';
import { createLogger } from '../platform/logger.js';
import { readSecrets, type StoredSecrets } from '../project/secrets.js';
import { lockDataDir, readRuntimeState, releaseDataDir } from '../project/state.js';
import { POSTGREST_VERSION } from '../rest/routes.js';
import { parseFlags } from './args.js';
import { renderTypescript } from './gen-types.js';

export const genHelp = `Usage: trellis gen types typescript [--dir D] [--db-url URL] [--schema S1,S2]

Prints the TypeScript \`Database\` type of the project's database to stdout, as
\`supabase gen types typescript\` does (\`createClient<Database>(…)\` types every query). The
database: --db-url, else DATABASE_URL, else the embedded one of D (default .), through the running
Trellis or started for the occasion. --schema lists the schemas to describe (default: public and
REST_SCHEMAS).`;

export async function genCommand(argv: string[]): Promise<number> {
  const [what, ...rest] = argv;
  if (what === undefined || what === '--help' || what === '-h') {
    process.stdout.write(`${genHelp}\n`);
    return 0;
  }
  if (what !== 'types') throw new FatalError(`unknown gen command "${what}" (commands: types)`);
  // `gen types typescript` or, as older Supabase CLIs took it, `gen types --lang typescript`.
  const positional = rest[0] !== undefined && !rest[0].startsWith('-');
  const lang = positional ? rest[0] : undefined;
  const flagArgs = positional ? rest.slice(1) : rest;
  const flags = parseFlags('gen types', flagArgs, {
    dir: { type: 'string' },
    'db-url': { type: 'string' },
    schema: { type: 'string', short: 's' },
    lang: { type: 'string' },
  });
  if (flags.help) {
    process.stdout.write(`${genHelp}\n`);
    return 0;
  }
  const language = lang ?? (typeof flags.lang === 'string' ? flags.lang : 'typescript');
  if (language !== 'typescript') throw new FatalError(`unknown language "${language}" (languages: typescript)`);
  const dbUrl = flags['db-url'];
  if (typeof dbUrl === 'string' && !/^postgres(ql)?:\/\//.test(dbUrl))
    throw new FatalError(`must be a postgres:// or postgresql:// URL (got "${dbUrl}")`, '--db-url');

  const config = loadConfig({ dir: flags.dir });
  const schemas = parseSchemas(typeof flags.schema === 'string' ? flags.schema : undefined, config.rest.schemas);
  const log = createLogger({ level: 'warn', pretty: false });
  const url = typeof dbUrl === 'string' ? dbUrl : config.databaseUrl;
  const running = url ? undefined : await readRuntimeState(config.dataDir);
  let secrets: StoredSecrets | undefined;
  if (!url && !running) {
    // The embedded database, started for the occasion: it must exist, and nobody else may start it.
    const hasCluster = await fs.access(path.join(config.dataDir, 'pg', 'PG_VERSION')).then(
      () => true,
      () => false,
    );
    secrets = await readSecrets(config.dataDir);
    if (!hasCluster || !secrets)
      throw new FatalError(
        `no database in ${config.dataDir} yet: run \`trellis start\` or \`trellis migrate\` first, or give --db-url`,
      );
    await lockDataDir(config.dataDir);
  }
  try {
    // Only the embedded database reads the stored password; a URL carries its own.
    const database = await openDatabase(
      { ...config, databaseUrl: url },
      secrets ?? { jwtSecret: '', dbPassword: '' },
      log,
      running?.dbUrl,
    );
    try {
      const catalog = await database.db.transaction((tx) => readCatalog(tx, schemas));
      process.stdout.write(renderTypescript(catalog, { postgrestVersion: POSTGREST_VERSION }));
    } finally {
      await database.close();
    }
  } finally {
    if (secrets) await releaseDataDir(config.dataDir);
  }
  return 0;
}

/** `--schema a,b` (the Supabase CLI's flag), else public and the exposed schemas, each once. */
export function parseSchemas(flag: string | undefined, exposed: readonly string[]): string[] {
  const listed = flag === undefined ? ['public', ...exposed] : flag.split(',');
  const schemas = [...new Set(listed.map((s) => s.trim()).filter((s) => s !== ''))];
  if (schemas.length === 0) throw new FatalError('must name at least one schema', '--schema');
  return schemas;
}
