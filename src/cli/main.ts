/** `trellis <command>`: dispatch, and the one place a FatalError becomes a line and an exit code. */
import { FatalError, describeFatal, errorMessage } from '../errors.js';
import { backupCommand, backupHelp } from './backup.js';
import { benchCommand, benchHelp } from './bench.js';
import { dbCommand, dbHelp } from './db.js';
import { genCommand, genHelp } from './gen.js';
import { importCommand, importHelp } from './import.js';
import { keysCommand, keysHelp } from './keys.js';
import { migrateCommand, migrateHelp } from './migrate.js';
import { restoreCommand, restoreHelp } from './restore.js';
import { secretsCommand, secretsHelp } from './secrets.js';
import { moveCommand, moveHelp } from './move.js';
import { startCommand, startHelp } from './start.js';
import { statusCommand, statusHelp } from './status.js';
import { storageCommand, storageHelp } from './storage.js';
import { studioCommand, studioHelp } from './studio.js';

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  start: startCommand,
  status: statusCommand,
  migrate: migrateCommand,
  db: dbCommand,
  gen: genCommand,
  import: importCommand,
  move: moveCommand,
  bench: benchCommand,
  backup: backupCommand,
  restore: restoreCommand,
  keys: keysCommand,
  storage: storageCommand,
  secrets: secretsCommand,
  studio: studioCommand,
};

const usage = `Usage: trellis <command> [options]

Commands:
  start     serve the project (default command)
  status    print URLs and keys of the running server
  migrate   apply pending migrations without serving
  db reset  drop the project's data, apply migrations and seed.sql again
  gen types print the TypeScript Database type of the project's database
  import    bring in a SQLite database, a SQLite/D1 dump or a Supabase project's PostgreSQL dump
  move      move the project's database to a PostgreSQL server (--to) or back (--from)
  bench     measure how many users this machine holds (load test with a floor)
  backup    online backup of the embedded database (list, verify, prune)
  restore   restore a backup into a new folder, to a point in time
  keys      the JWT signing keys (list, generate, rotate, revoke)
  storage   access keys of the S3 protocol endpoint (storage keys create, list, revoke)
  secrets   the edge functions' secrets (set, list, unset)
  studio    the Studio dashboard's password (studio passwd)

${startHelp}

${statusHelp}

${migrateHelp}

${dbHelp}

${genHelp}

${importHelp}

${moveHelp}

${benchHelp}

${backupHelp}

${restoreHelp}

${keysHelp}

${storageHelp}
${secretsHelp}

${studioHelp}

Configuration: docs/configuration.md`;

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (first === undefined || first.startsWith('-')) return startCommand(argv);
  const command = commands[first];
  if (!command) throw new FatalError(`unknown command "${first}" (commands: ${Object.keys(commands).join(', ')})`);
  return command(rest);
}

// A command whose work never settles (a promise left waiting on a socket that was closed) lets
// the event loop run dry, and Node exits with 0: that must read as the failure it is.
process.exitCode = 1;
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof FatalError) {
      process.stderr.write(`trellis: ${describeFatal(err)}\n`);
    } else {
      // Not a user's mistake but a bug: the stack is for the report.
      process.stderr.write(
        `trellis: unexpected error (a bug, please report it): ${errorMessage(err)}\n${(err as Error)?.stack ?? ''}\n`,
      );
    }
    process.exit(1);
  },
);
