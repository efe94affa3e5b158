/** `trellis move`: the project's database to a PostgreSQL server (`--to`) and back (`--from`). */
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, type Config } from '../config.js';
import { redactUrl, startEmbedded, type EmbeddedDatabase } from '../db/index.js';
import { FatalError } from '../errors.js';
import {
  copyObjectsToS3,
  describeDigests,
  finishFollow,
  moveDatabase,
  parseS3Target,
  parseServerUrl,
  type MoveReporter,
  type MoveResult,
} from '../move/index.js';
import { progress } from '../platform/progress.js';
import { loadOrCreateSecrets, readSecrets } from '../project/secrets.js';
import { lockDataDir, prepareDataDir, readRuntimeState, releaseDataDir } from '../project/state.js';
import { parseFlags } from './args.js';
import { nextStepsFrom, nextStepsTo } from './move-steps.js';

export const moveHelp = `Usage: trellis move --to postgres://user@host:port/db [--dir D] [--storage-to s3://bucket] [--follow | --finish] [--yes]
       trellis move --from postgres://user@host:port/db [--dir D]

Moves the project's database to a PostgreSQL server (14 or later) and back: Trellis's schema and
the project's migrations are applied there, every table is copied by COPY in one snapshot,
sequences are advanced, and both sides are compared table by table (rows and checksums); a failed
or differing move removes what it made on the target. The target database must be empty of
project data. The source is the embedded database of D (default .), or DATABASE_URL.
  --storage-to s3://bucket  also copy the local storage objects to that bucket (STORAGE_S3_* settings
                            for endpoint and credentials), each read back and checked.
  --follow                  afterwards keep the target in step by logical replication (the target
                            server must reach the source); Trellis keeps serving meanwhile.
  --finish                  end a --follow: wait until the target has caught up, stop the
                            replication, advance sequences, compare. Stop Trellis first.
                            (With --storage-to, the objects are copied again then.)
  --yes                     move while Trellis runs on D (writes during the copy are not carried).
  --from URL                the other way: from that server into D's embedded database (new or empty).
See docs/move.md.`;

export async function moveCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('move', argv, {
    to: { type: 'string' },
    from: { type: 'string' },
    dir: { type: 'string' },
    'storage-to': { type: 'string' },
    follow: { type: 'boolean' },
    finish: { type: 'boolean' },
    yes: { type: 'boolean' },
  });
  if (flags.help) {
    process.stdout.write(`${moveHelp}\n`);
    return 0;
  }
  const to = typeof flags.to === 'string' ? parseServerUrl(flags.to, '--to') : undefined;
  const from = typeof flags.from === 'string' ? parseServerUrl(flags.from, '--from') : undefined;
  if ((to === undefined) === (from === undefined))
    throw new FatalError('give either --to postgres://… (to a server) or --from postgres://… (back from one)');
  if (flags.follow && flags.finish) throw new FatalError('--follow starts following and --finish ends it: give one');
  if (from && (flags.follow || flags.finish || flags['storage-to'] !== undefined))
    throw new FatalError('--follow, --finish and --storage-to go with --to');
  const s3 = typeof flags['storage-to'] === 'string' ? parseS3Target(flags['storage-to']) : undefined;

  const config = loadConfig({ dir: flags.dir });
  if (s3 && config.storage.backend === 's3')
    throw new FatalError('the storage objects are in S3 already (STORAGE_BACKEND=s3)', '--storage-to');
  // Ctrl-C or SIGTERM during the database step: the move stops and takes back what it made on the
  // target (a second signal quits at once). Outside that step there is nothing to take back.
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!undoable.active) process.exit(130);
    process.stderr.write(`trellis: ${signal}: stopping, and removing what the move made on the target\n`);
    interrupt.abort(signal);
    process.once(signal, () => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const report: MoveReporter = {
    say: (line) => process.stdout.write(`${line}\n`),
    progress: (label, options) => progress(label, options),
  };
  if (from) return moveBack(config, from, report, interrupt.signal);
  return moveOut(
    config,
    to ?? '',
    { follow: flags.follow === true, finish: flags.finish === true, yes: flags.yes === true, s3 },
    report,
    interrupt.signal,
  );
}

/** Whether a signal now has something to undo (the database step of a move is under way). */
const undoable = { active: false };

/** Runs `work` as the part of the move a signal undoes. */
async function undoableStep<T>(work: () => Promise<T>): Promise<T> {
  undoable.active = true;
  try {
    return await work();
  } finally {
    undoable.active = false;
  }
}

interface OutOptions {
  readonly follow: boolean;
  readonly finish: boolean;
  readonly yes: boolean;
  readonly s3?: { readonly bucket: string };
}

async function moveOut(
  config: Config,
  to: string,
  options: OutOptions,
  report: MoveReporter,
  abort: AbortSignal,
): Promise<number> {
  const running = await readRuntimeState(config.dataDir);
  if (running && !options.follow && !options.yes) {
    throw new FatalError(
      options.finish
        ? `Trellis (pid ${running.pid}) is still running on ${config.dir}: stop it first, so no write comes after the cut-over (or give --yes)`
        : `Trellis (pid ${running.pid}) is running on ${config.dir}: writes during the copy would not reach the target. Stop it, or use --follow (the target keeps in step until --finish), or --yes to accept that`,
    );
  }
  const source = await openSource(config, running?.dbUrl);
  try {
    if (sameDatabase(source.url, to)) throw new FatalError('is the database the project already runs on', '--to');
    const endpoints = {
      source: { url: source.url, label: `source database ${source.label}` },
      target: { url: to, label: `target database ${redactUrl(to)}` },
    };
    let result: MoveResult;
    if (options.finish) {
      result = await finishFollow({ ...endpoints, sourceConnInfo: source.url, report });
      // Objects uploaded while following: every object is copied again (same keys), and checked.
      if (options.s3 && result.differences.length === 0)
        await copyObjectsToS3(endpoints.source, config, options.s3.bucket, report);
    } else {
      if (options.s3) {
        await copyObjectsToS3(endpoints.source, config, options.s3.bucket, report);
      }
      result = await undoableStep(() =>
        moveDatabase({
          ...endpoints,
          migrationsDir: config.migrationsDir,
          pool: config.pool,
          follow: options.follow ? { sourceConnInfo: source.url } : undefined,
          report,
          abort,
        }),
      );
    }
    if (!verified(result, report, options.finish)) return 1;
    report.say(nextStepsTo(config, to, { ...options, running: running !== undefined, embedded: !config.databaseUrl }));
    return 0;
  } finally {
    await source.close();
  }
}

async function moveBack(config: Config, from: string, report: MoveReporter, abort: AbortSignal): Promise<number> {
  await prepareDataDir(config.dir, config.dataDir);
  const running = await readRuntimeState(config.dataDir);
  if (running)
    throw new FatalError(
      `Trellis (pid ${running.pid}) is running on ${config.dir}: stop it before moving its database back`,
    );
  await lockDataDir(config.dataDir);
  let embedded: EmbeddedDatabase | undefined;
  try {
    const secrets = await loadOrCreateSecrets(config.dataDir);
    embedded = await startEmbedded({ dataDir: config.dataDir, password: secrets.dbPassword, onProgress: report.say });
    const targetUrl = embedded.url;
    if (sameDatabase(targetUrl, from)) throw new FatalError('is the embedded database itself', '--from');
    const result = await undoableStep(() =>
      moveDatabase({
        source: { url: from, label: `source database ${redactUrl(from)}` },
        target: {
          url: targetUrl,
          label: `embedded database in ${path.join(config.dataDir, 'pg')}`,
          whenNotEmpty: `move that folder aside first (mv ${path.join(config.dataDir, 'pg')} ${path.join(config.dataDir, 'pg.before-move')})`,
        },
        migrationsDir: config.migrationsDir,
        pool: config.pool,
        report,
        abort,
      }),
    );
    if (!verified(result, report)) return 1;
    report.say(nextStepsFrom(config));
    return 0;
  } finally {
    await embedded?.stop();
    await releaseDataDir(config.dataDir);
  }
}

function verified(result: MoveResult, report: MoveReporter, finishing = false): boolean {
  report.say(describeDigests(result.source, result.target, result.differences));
  const rows = result.source.reduce((sum, d) => sum + d.rows, 0);
  if (result.differences.length > 0) {
    const tables = result.differences.map((d) => d.table).join(', ');
    // After --finish the replication has ended: the target keeps what it has, nothing is undone.
    const outcome = finishing
      ? 'the replication has ended; was something still writing to the source? Compare the tables, or drop the target database and move again'
      : `nothing was kept on the target${result.removed ? ` (removed from the target: ${result.removed.join(', ')})` : ''}`;
    process.stderr.write(`trellis: the two sides differ in ${tables}; ${outcome}\n`);
    return false;
  }
  report.say(
    `verified: ${result.source.length} tables, ${rows.toLocaleString('en-US')} rows, identical on both sides; ${result.sequences} sequences set`,
  );
  return true;
}

interface Source {
  readonly url: string;
  readonly label: string;
  close(): Promise<void>;
}

/** The project's database: DATABASE_URL, the running Trellis's, or the embedded one started for the occasion. */
async function openSource(config: Config, runningUrl: string | undefined): Promise<Source> {
  if (config.databaseUrl)
    return { url: config.databaseUrl, label: redactUrl(config.databaseUrl), close: async () => undefined };
  if (runningUrl)
    return {
      url: runningUrl,
      label: `(the running Trellis's, ${redactUrl(runningUrl)})`,
      close: async () => undefined,
    };
  const hasCluster = await fs.access(path.join(config.dataDir, 'pg', 'PG_VERSION')).then(
    () => true,
    () => false,
  );
  const secrets = await readSecrets(config.dataDir);
  if (!hasCluster || !secrets)
    throw new FatalError(
      `no database in ${config.dataDir} yet: there is nothing to move (run \`trellis start\` first)`,
    );
  await lockDataDir(config.dataDir);
  try {
    const embedded = await startEmbedded({
      dataDir: config.dataDir,
      password: secrets.dbPassword,
      onProgress: () => undefined,
    });
    return {
      url: embedded.url,
      label: `(embedded, in ${path.join(config.dataDir, 'pg')})`,
      close: async () => {
        await embedded.stop();
        await releaseDataDir(config.dataDir);
      },
    };
  } catch (err) {
    await releaseDataDir(config.dataDir);
    throw err;
  }
}

function sameDatabase(a: string, b: string): boolean {
  const key = (u: string) => {
    const url = new URL(u);
    return `${url.hostname.replace(/^localhost$/, '127.0.0.1')}:${url.port || '5432'}${url.pathname}`;
  };
  return key(a) === key(b);
}
