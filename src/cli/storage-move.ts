/** `trellis storage move <bucket> --to <store>`: the CLI side of src/storage/store-move.ts. */
import { loadConfig } from '../config.js';
import { FatalError, errorMessage } from '../errors.js';
import { createObjectStores } from '../platform/store/index.js';
import { progress, type Progress } from '../platform/progress.js';
import { moveBucket, MoveRefused } from '../storage/routes.js';
import { parseFlags } from './args.js';
import { withDatabase } from './storage-db.js';

const moveHelp = `Usage: trellis storage move <BUCKET> --to <STORE> [--dir D]

Copies the bucket's objects to STORE ([storage.stores.*] of config.toml, or default), checks
each copy (size and SHA-256), switches the bucket, then removes the old bytes; the server keeps
serving the bucket meanwhile. Run it again to go on after an interruption. See docs/storage.md.`;

export async function moveCommand(args: string[]): Promise<number> {
  const positional = args.filter((a, i) => !a.startsWith('-') && args[i - 1] !== '--to' && args[i - 1] !== '--dir');
  const flags = parseFlags(
    'storage move',
    args.filter((a) => !positional.includes(a)),
    { dir: { type: 'string' }, to: { type: 'string' } },
  );
  if (flags.help) {
    process.stdout.write(`${moveHelp}\n`);
    return 0;
  }
  const [bucket, extra] = positional;
  if (bucket === undefined) throw new FatalError('which bucket? `trellis storage move <bucket> --to <store>`');
  if (extra !== undefined) throw new FatalError(`unexpected argument "${extra.slice(0, 64)}"`);
  if (bucket.length > 100 || bucket.includes('\u0000'))
    throw new FatalError(`"${bucket.slice(0, 64)}" is not a bucket id`);
  const to = flags.to;
  if (typeof to !== 'string' || to === '') throw new FatalError('--to names the store to move to', '--to');
  const config = loadConfig(flags);
  const stores = await createObjectStores(config);
  let bar: Progress | undefined;
  try {
    return await withDatabase(config, async (db) => {
      try {
        const result = await moveBucket(
          db,
          stores,
          bucket,
          to,
          {
            start(phase, objects, bytes) {
              bar?.done();
              bar = progress(`${phase === 'copy' ? 'copying' : 'catching up'} ${bucket} (${objects} objects)`, {
                unit: 'bytes',
                total: bytes,
              });
            },
            object: (bytes) => bar?.tick(bytes),
            note(message) {
              bar?.done();
              bar = undefined;
              process.stderr.write(`${message}\n`);
            },
          },
          { ...(config.storage.testMoveStopAfter !== undefined && { stopAfter: config.storage.testMoveStopAfter }) },
        );
        bar?.done();
        process.stdout.write(
          `moved bucket ${bucket} from store ${result.from} to ${result.to}: ${result.copied} objects copied, ${result.alreadyThere} already there (checked), ${result.removed} removed from ${result.from}\n`,
        );
        return 0;
      } catch (err) {
        bar?.fail(errorMessage(err));
        if (err instanceof MoveRefused) throw new FatalError(err.message);
        throw new FatalError(`moving bucket "${bucket}" failed: ${errorMessage(err)} (run the command again to go on)`);
      }
    });
  } finally {
    await Promise.allSettled([...stores.values()].map((s) => s.close()));
  }
}
