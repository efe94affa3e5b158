/** `trellis backup [create] | list | verify [<id>] | prune`. */
import { loadConfig } from '../config.js';
import { FatalError } from '../errors.js';
import {
  createBackup,
  listBackups,
  openTarget,
  pruneBackups,
  readManifest,
  verifyBackup,
  type EmbeddedManifest,
} from '../backup/index.js';
import { parseFlags } from './args.js';
import { cliProgress, withEmbeddedCluster } from './backup-cluster.js';
import { tryLockFor } from './backup-lock.js';
import { dumpCommand } from './backup-dump.js';

export const backupHelp = `Usage: trellis backup [create] [--dir D] [--label L]
       trellis backup list [--dir D] [-o json]
       trellis backup verify [<id>] [--dir D]
       trellis backup prune [--dir D]

create  an online base backup of the embedded database (nothing stops), the project's secrets and
        supabase/ folder, and the storage files, into BACKUP_TARGET (default D/backups: the same
        disk; set BACKUP_TARGET to a folder elsewhere or s3://bucket/prefix). With DATABASE_URL,
        a pg_dump -Fc of the server instead.
list    complete backups, oldest first (an interrupted one is shown as incomplete).
verify  restores a backup (default: the newest) into a scratch folder and compares every table's
        row count and checksum with those taken when it was made; exit 1 on any mismatch.
prune   keeps the newest BACKUP_KEEP backups and the WAL they need; removes incomplete ones.
Backups hold the project's secrets (JWT secret, database password): keep the target private.
See docs/backups.md.`;

export async function backupCommand(argv: string[]): Promise<number> {
  const known = ['create', 'list', 'verify', 'prune'];
  const sub = argv[0] !== undefined && !argv[0].startsWith('-') ? argv[0] : 'create';
  const rest = argv[0] === sub ? argv.slice(1) : argv;
  if (!known.includes(sub)) throw new FatalError(`unknown backup command "${sub}" (commands: ${known.join(', ')})`);
  const positional = sub === 'verify' && rest[0] !== undefined && !rest[0].startsWith('-') ? rest[0] : undefined;
  const flags = parseFlags(`backup ${sub}`, positional ? rest.slice(1) : rest, {
    dir: { type: 'string' },
    label: { type: 'string' },
    output: { type: 'string', short: 'o' },
  });
  if (flags.help) {
    process.stdout.write(`${backupHelp}\n`);
    return 0;
  }
  const config = loadConfig({ dir: flags.dir });
  if (config.databaseUrl && sub === 'create')
    return dumpCommand(config, typeof flags.label === 'string' ? flags.label : undefined);
  if (config.databaseUrl && sub === 'verify')
    throw new FatalError(
      'verify covers backups of the embedded database; a pg_dump backup is checked against its sha256 when restored',
    );
  const target = await openTarget(config.backup.target, config.backup.s3, sub !== 'create', 'BACKUP_TARGET');
  try {
    switch (sub) {
      case 'create': {
        const manifest = await withEmbeddedCluster(config, (url) =>
          createBackup({
            config,
            dbUrl: url,
            target,
            progress: cliProgress,
            label: typeof flags.label === 'string' ? flags.label : undefined,
          }),
        );
        process.stdout.write(
          `backup ${manifest.id} complete in ${target.where} (${manifest.tables.length} tables, ${manifest.storageFiles} storage files, ends at ${manifest.stopTime})\n`,
        );
        return 0;
      }
      case 'list': {
        const all = await listBackups(target);
        if (flags.output === 'json') {
          process.stdout.write(
            `${JSON.stringify(all.map((b) => ({ id: b.id, complete: b.complete, ...(b.problem && { problem: b.problem }), ...(b.manifest && { kind: b.manifest.kind, label: b.manifest.label, startTime: b.manifest.startTime, stopTime: b.manifest.stopTime, size: b.manifest.pieces.reduce((s, p) => s + p.size, 0) }) })))}\n`,
          );
          return 0;
        }
        if (all.length === 0) process.stdout.write(`no backups in ${target.where}\n`);
        for (const b of all) {
          if (b.manifest) {
            const size = b.manifest.pieces.reduce((s, p) => s + p.size, 0);
            process.stdout.write(
              `${b.id}  complete    ends ${b.manifest.stopTime}  ${size} bytes  ${b.manifest.kind}  ${b.manifest.label}\n`,
            );
          } else
            process.stdout.write(
              `${b.id}  INCOMPLETE  ${b.problem ?? 'interrupted: never restorable; the next backup or prune removes it'}\n`,
            );
        }
        return 0;
      }
      case 'verify': {
        const all = (await listBackups(target)).filter((b) => b.complete);
        const id = positional ?? all.at(-1)?.id;
        if (!id) throw new FatalError(`no complete backup in ${target.where} to verify`);
        const manifest = await readManifest(target, id);
        if (manifest.kind !== 'embedded')
          throw new FatalError(`backup ${id} is a pg_dump: verify covers embedded backups`);
        const report = await verifyBackup(config, target, manifest satisfies EmbeddedManifest, cliProgress);
        for (const p of report.pieces) process.stdout.write(`piece ${p.piece}: MISMATCH ${p.message}\n`);
        for (const t of report.tables) process.stdout.write(`${t.table}: ${t.ok ? 'OK' : 'MISMATCH'} ${t.detail}\n`);
        process.stdout.write(`${report.indexesChecked} B-tree indexes checked (amcheck)\n`);
        process.stdout.write(report.ok ? `backup ${id}: verified\n` : `backup ${id}: FAILED verification\n`);
        return report.ok ? 0 : 1;
      }
      default: {
        const prune = (url: string) => tryLockFor(url, () => pruneBackups(target, config.backup.keep));
        const report = config.databaseUrl ? await prune(config.databaseUrl) : await withEmbeddedCluster(config, prune);
        process.stdout.write(
          `kept the newest ${config.backup.keep}; removed ${report.removedBackups.length} backup(s)${report.removedBackups.length ? ` (${report.removedBackups.join(', ')})` : ''}, ${report.removedIncomplete} incomplete, ${report.removedWal} WAL file(s)\n`,
        );
        return 0;
      }
    }
  } finally {
    await target.close();
  }
}
