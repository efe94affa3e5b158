/** The PostgreSQL-server path (DATABASE_URL): `trellis backup` runs pg_dump; `restore --db-url` runs pg_restore. */
import type { Config } from '../config.js';
import { FatalError } from '../errors.js';
import { dumpServer, openTarget, pickBackup, restoreDump } from '../backup/index.js';
import { cliProgress } from './backup-cluster.js';

export async function dumpCommand(config: Config, label: string | undefined): Promise<number> {
  const target = await openTarget(config.backup.target, config.backup.s3, false, 'BACKUP_TARGET');
  try {
    const manifest = await dumpServer(config.databaseUrl!, target, cliProgress, label);
    process.stdout.write(
      `backup ${manifest.id} (pg_dump) complete in ${target.where} (${manifest.pieces[0]!.size} bytes)\n`,
    );
    return 0;
  } finally {
    await target.close();
  }
}

export async function restoreDumpCommand(
  config: Config,
  where: string,
  id: string | undefined,
  dbUrl: string,
): Promise<number> {
  if (!/^postgres(ql)?:\/\//.test(dbUrl))
    throw new FatalError(`must be a postgres:// or postgresql:// URL`, '--db-url');
  const target = await openTarget(where, config.backup.s3, true);
  try {
    const chosen = await pickBackup(target, id, undefined);
    if (chosen.manifest.kind !== 'pg_dump')
      throw new FatalError(
        `backup ${chosen.id} is of an embedded database: restore it with --dir (a new project folder)`,
        '--db-url',
      );
    await restoreDump(chosen.manifest, target, dbUrl, cliProgress);
    process.stdout.write(`restored backup ${chosen.id} (pg_dump) into the database at --db-url\n`);
    return 0;
  } finally {
    await target.close();
  }
}
