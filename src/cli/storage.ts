/**
 * `trellis storage`: the access keys of the S3 protocol endpoint (keys create, list, revoke), and
 * the stores (verify: rows against bytes; move: a bucket to another store).
 */
import { loadConfig } from '../config.js';
import { FatalError, errorMessage } from '../errors.js';
import {
  bucketsToVerify,
  createAccessKey,
  listAccessKeys,
  problemsOf,
  revokeAccessKey,
  verifyBucket,
  type BucketReport,
} from '../storage/routes.js';
import { createObjectStores } from '../platform/store/index.js';
import { progress } from '../platform/progress.js';
import { parseFlags, type OptionSpec } from './args.js';
import { moveCommand } from './storage-move.js';
import { withDatabase } from './storage-db.js';

export const storageHelp = `Usage: trellis storage keys <command> [--dir D]
       trellis storage verify [BUCKET …] [--json] [--dir D]
       trellis storage move <BUCKET> --to <STORE> [--dir D]

Access keys for the S3 protocol endpoint (/storage/v1/s3): an S3 client (the AWS SDK or CLI,
rclone) signs with one (SigV4) and acts as the service role. The secret is shown once, when made;
the database keeps it sealed under a key derived from the JWT secret. See docs/storage.md.

Commands:
  keys create [--description TEXT] [-o json]   make a key; prints its id and secret
  keys list [-o json]                          the keys (ids, descriptions, when made, when revoked)
  keys revoke <id>                             refuse the key from now on (InvalidAccessKeyId)
  verify [BUCKET …] [--json]                   rows without bytes and bytes without rows, per
                                               bucket (all buckets by default); exits 1 on any
  move <BUCKET> --to <STORE>                   copy a bucket's objects to another store
                                               ([storage.stores.*] or default), check each
                                               (size and SHA-256), switch, remove the old bytes;
                                               run it again to go on after an interruption`;

const COMMANDS = ['create', 'list', 'revoke'] as const;

export async function storageCommand(argv: string[]): Promise<number> {
  const [group, sub, ...rest] = argv;
  if (group === undefined || group === '--help' || group === '-h' || sub === '--help' || sub === '-h') {
    process.stdout.write(`${storageHelp}\n`);
    return 0;
  }
  if (group === 'verify') return verifyCommand(argv.slice(1));
  if (group === 'move') return moveCommand(argv.slice(1));
  if (group !== 'keys') throw new FatalError(`unknown storage command "${group}" (commands: keys, verify, move)`);
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
  return flag === '--dir' || flag === '--description' || flag === '-o' || flag === '--output' || flag === '--to';
}

/** Splits `args` into positionals and flags (parsed strictly). */
function parseCommand(command: string, args: string[], spec: OptionSpec) {
  const positional = args.filter((a, i) => !a.startsWith('-') && !takesValue(args[i - 1]));
  const flags = parseFlags(
    command,
    args.filter((a, i) => a.startsWith('-') || takesValue(args[i - 1])),
    spec,
  );
  return { positional, flags };
}

async function verifyCommand(args: string[]): Promise<number> {
  const { positional, flags } = parseCommand('storage verify', args, {
    dir: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (flags.help) {
    process.stdout.write(`${storageHelp}\n`);
    return 0;
  }
  for (const b of positional)
    if (b.length > 100 || b.includes('\u0000')) throw new FatalError(`"${b.slice(0, 64)}" is not a bucket id`);
  const config = loadConfig(flags);
  const stores = await createObjectStores(config);
  try {
    return await withDatabase(config, async (db) => {
      const buckets = await bucketsToVerify(db, positional).catch((err: unknown) => {
        throw new FatalError(errorMessage(err));
      });
      const reports: BucketReport[] = [];
      for (const bucket of buckets) {
        const bar = progress(`verifying ${bucket}`, { unit: 'objects' });
        try {
          reports.push(await verifyBucket(db, stores, bucket, (n) => bar.tick(n)));
          bar.done();
        } catch (err) {
          bar.fail(errorMessage(err));
          throw new FatalError(`verifying bucket "${bucket}" failed: ${errorMessage(err)}`);
        }
      }
      const problems = reports.reduce((n, r) => n + problemsOf(r), 0);
      if (flags.json) process.stdout.write(`${JSON.stringify({ problems, buckets: reports })}\n`);
      else process.stdout.write(verifyText(reports, problems));
      return problems > 0 ? 1 : 0;
    });
  } finally {
    await Promise.allSettled([...stores.values()].map((s) => s.close()));
  }
}

function verifyText(reports: readonly BucketReport[], problems: number): string {
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(
      `${r.bucket} (store ${r.store}): ${r.objects} objects, ${r.missing.length} without bytes, ${r.orphaned.length} bytes without a row, ${r.wrongSize.length} of the wrong size`,
    );
    if (r.moving)
      lines.push(`  being moved from store ${r.moving.from}: ${r.moving.notCopiedYet} objects not copied yet`);
    for (const name of r.missing) lines.push(`  no bytes:  ${name}`);
    for (const locator of r.orphaned) lines.push(`  no row:    ${locator}`);
    for (const w of r.wrongSize) lines.push(`  size:      ${w.name} (row ${w.row}, stored ${w.stored})`);
  }
  if (reports.length === 0) lines.push('no buckets');
  lines.push(problems === 0 ? 'ok: every row has its bytes and every byte its row' : `${problems} problems`);
  return `${lines.join('\n')}\n`;
}
