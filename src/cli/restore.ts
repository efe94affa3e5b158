/** `trellis restore --from <target-or-backup> [--backup <id>] [--to-time T | --to-latest] --dir D`. */
import path from 'node:path';
import { loadConfig } from '../config.js';
import { FatalError } from '../errors.js';
import { openTarget, parseFrom, parseRestoreTime, prepareEmptyDir, restoreBackup } from '../backup/index.js';
import { parseFlags } from './args.js';
import { cliProgress } from './backup-cluster.js';
import { restoreDumpCommand } from './backup-dump.js';

export const restoreHelp = `Usage: trellis restore --from <target-or-backup> [--backup <id>] [--to-time T | --to-latest] --dir D
       trellis restore --from <target-or-backup> [--backup <id>] --db-url URL   (a pg_dump backup)

Restores a backup into D, a new or empty project folder; then \`trellis start --dir D\` serves it.
--from     a backup target (a folder or s3://bucket/prefix, as BACKUP_TARGET) or one backup in it
--backup   the backup id (default: the newest that ended before --to-time, or the newest)
--to-time  replay the archived WAL up to T: ISO-8601 with a zone (2026-12-02T01:15:00Z)
--to-latest replay everything archived (the default)
--db-url   an empty PostgreSQL database to pg_restore a server's (pg_dump) backup into
See docs/backups.md.`;

export async function restoreCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('restore', argv, {
    from: { type: 'string' },
    backup: { type: 'string' },
    'to-time': { type: 'string' },
    'to-latest': { type: 'boolean' },
    dir: { type: 'string' },
    'db-url': { type: 'string' },
  });
  if (flags.help) {
    process.stdout.write(`${restoreHelp}\n`);
    return 0;
  }
  if (typeof flags.from !== 'string' || flags.from === '')
    throw new FatalError('is required: the backup target or backup to restore', '--from');
  if (typeof flags['to-time'] === 'string' && flags['to-latest'])
    throw new FatalError('--to-time and --to-latest exclude each other', '--to-time');
  const time = typeof flags['to-time'] === 'string' ? parseRestoreTime(flags['to-time'], new Date()) : undefined;
  if (typeof time === 'string') throw new FatalError(time, '--to-time');
  const from = parseFrom(flags.from);
  if (from.partial)
    throw new FatalError(
      `backup ${from.id} is incomplete (interrupted before its manifest was written); it cannot be restored`,
      '--from',
    );
  const id = typeof flags.backup === 'string' ? flags.backup : from.id;
  if (from.id && typeof flags.backup === 'string' && flags.backup !== from.id)
    throw new FatalError(`names backup ${from.id}, but --backup names ${flags.backup}`, '--from');
  // Settings (BACKUP_S3_*, archive timeout) from the environment; the folder is the restore's.
  const dbUrl = flags['db-url'];
  if (typeof dbUrl === 'string') {
    const config = loadConfig({});
    return restoreDumpCommand(config, from.where, id, dbUrl);
  }
  if (typeof flags.dir !== 'string' || flags.dir === '')
    throw new FatalError('is required: the new project folder to restore into', '--dir');
  const dir = path.resolve(flags.dir);
  const config = loadConfig({ dir });
  const target = await openTarget(from.where, config.backup.s3, true);
  try {
    await prepareEmptyDir(dir);
    const report = await restoreBackup({ config, target, id, time, dir, progress: cliProgress });
    process.stdout.write(
      `restored backup ${report.backup} into ${dir} (${report.reached === 'time' ? `to ${time!.input}` : 'to the latest point archived'}, ${report.walFiles} WAL files, ${report.storageFiles} storage files); serve it with: trellis start --dir ${dir}\n`,
    );
    return 0;
  } finally {
    await target.close();
  }
}
