/** `trellis storage keys`: the access keys of the S3 protocol endpoint (create, list, revoke). */
import { loadConfig, type Config } from '../config.js';
import { isPgError, openDatabase, type Db } from '../db/index.js';
import { FatalError } from '../errors.js';
import { createLogger } from '../platform/logger.js';
import { loadOrCreateSecrets } from '../project/secrets.js';
import { lockDataDir, prepareDataDir, readRuntimeState, releaseDataDir } from '../project/state.js';
import { createAccessKey, listAccessKeys, revokeAccessKey } from '../storage/routes.js';
import { parseFlags } from './args.js';

export const storageHelp = `Usage: trellis storage keys <command> [--dir D]

Access keys for the S3 protocol endpoint (/storage/v1/s3): an S3 client (the AWS SDK or CLI,
rclone) signs with one (SigV4) and acts as the service role. The secret is shown once, when made;
the database keeps it sealed under a key derived from the JWT secret. See docs/storage.md.

Commands:
  create [--description TEXT] [-o json]   make a key; prints its id and secret
  list [-o json]                          the keys (ids, descriptions, when made, when revoked)
  revoke <id>                             refuse the key from now on (InvalidAccessKeyId)`;

const COMMANDS = ['create', 'list', 'revoke'] as const;

export async function storageCommand(argv: string[]): Promise<number> {
  const [group, sub, ...rest] = argv;
  if (group === undefined || group === '--help' || group === '-h' || sub === '--help' || sub === '-h') {
    process.stdout.write(`${storageHelp}\n`);
    return 0;
  }
  if (group !== 'keys') throw new FatalError(`unknown storage command "${group}" (commands: keys)`);
  if (sub === undefined || !(COMMANDS as readonly string[]).includes(sub))
    throw new FatalError(`unknown storage keys command "${sub ?? ''}" (commands: ${COMMANDS.join(', ')})`);
  const positional = rest.filter((a, i) => !a.startsWith('-') && !takesValue(rest[i - 1]));
  const flags = parseFlags(
    `storage keys ${sub}`,
    rest.filter((a) => !positional.includes(a)),
    { dir: { type: 'string' }, description: { type: 'string' }, output: { type: 'string', short: 'o' } },
  );
  if (flags.help) {
    process.stdout.write(`${storageHelp}\n`);
    return 0;
  }
  if (positional.length > (sub === 'revoke' ? 1 : 0))
    throw new FatalError(`unexpected argument "${positional.at(-1)}" (see \`trellis storage --help\`)`);
  const json = flags.output === 'json';
  if (flags.output !== undefined && !json) throw new FatalError('-o takes only json', '-o');
  const config = loadConfig(flags);
  return withDatabase(config, async (db, jwtSecret) => {
    if (sub === 'create') {
      const description = typeof flags.description === 'string' ? flags.description : '';
      if (description.length > 200 || description.includes('\u0000'))
        throw new FatalError('--description must be at most 200 characters', '--description');
      const key = await createAccessKey(db, jwtSecret, description);
      process.stdout.write(
        json
          ? `${JSON.stringify({ access_key_id: key.id, secret_access_key: key.secret, description })}\n`
          : `access key id:     ${key.id}\nsecret access key: ${key.secret}\n(the secret is shown only now)\n`,
      );
      return 0;
    }
    if (sub === 'list') {
      const keys = await listAccessKeys(db);
      if (json) process.stdout.write(`${JSON.stringify(keys)}\n`);
      else if (keys.length === 0) process.stdout.write('no access keys (make one: trellis storage keys create)\n');
      else
        for (const k of keys)
          process.stdout.write(
            `${k.id}  ${k.revoked_at ? `revoked ${k.revoked_at.toISOString()}` : 'active'}  made ${k.created_at.toISOString()}  ${k.description}\n`,
          );
      return 0;
    }
    const id = positional[0];
    if (id === undefined) throw new FatalError('which key? `trellis storage keys revoke <id>`');
    if (!(await revokeAccessKey(db, id))) throw new FatalError(`no active access key "${id.slice(0, 64)}"`);
    process.stdout.write(`revoked ${id}\n`);
    return 0;
  });
}

function takesValue(flag: string | undefined): boolean {
  return flag === '--dir' || flag === '--description' || flag === '-o' || flag === '--output';
}

/** The project's database (through the running Trellis when one owns the embedded database). */
async function withDatabase(config: Config, fn: (db: Db, jwtSecret: string) => Promise<number>): Promise<number> {
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
          'the database has no storage.s3_access_keys table yet: start Trellis or run `trellis migrate` first',
        );
      throw err;
    }
  } finally {
    if (ownsFolder) await releaseDataDir(config.dataDir);
  }
}
