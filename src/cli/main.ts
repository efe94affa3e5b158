/** `trellis <command>`: dispatch, and the one place a FatalError becomes a line and an exit code. */
import { FatalError, describeFatal, errorMessage } from '../errors.js';

type Command = readonly [run: (argv: string[]) => Promise<number>, help: string];

// Each command's module is loaded when it runs: `trellis start` does not load import's or bench's code.
const commands: Record<string, () => Promise<Command>> = {
  start: () => import('./start.js').then((m) => [m.startCommand, m.startHelp]),
  status: () => import('./status.js').then((m) => [m.statusCommand, m.statusHelp]),
  migrate: () => import('./migrate.js').then((m) => [m.migrateCommand, m.migrateHelp]),
  db: () => import('./db.js').then((m) => [m.dbCommand, m.dbHelp]),
  gen: () => import('./gen.js').then((m) => [m.genCommand, m.genHelp]),
  import: () => import('./import.js').then((m) => [m.importCommand, m.importHelp]),
  move: () => import('./move.js').then((m) => [m.moveCommand, m.moveHelp]),
  bench: () => import('./bench.js').then((m) => [m.benchCommand, m.benchHelp]),
  backup: () => import('./backup.js').then((m) => [m.backupCommand, m.backupHelp]),
  restore: () => import('./restore.js').then((m) => [m.restoreCommand, m.restoreHelp]),
  keys: () => import('./keys.js').then((m) => [m.keysCommand, m.keysHelp]),
  storage: () => import('./storage.js').then((m) => [m.storageCommand, m.storageHelp]),
  secrets: () => import('./secrets.js').then((m) => [m.secretsCommand, m.secretsHelp]),
  studio: () => import('./studio.js').then((m) => [m.studioCommand, m.studioHelp]),
};

async function usage(): Promise<string> {
  const helps = await Promise.all(Object.values(commands).map(async (load) => (await load())[1]));
  return `Usage: trellis <command> [options]

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
  storage   S3 endpoint access keys (storage keys), verify rows against bytes, move a bucket's store
  secrets   the edge functions' secrets (set, list, unset)
  studio    the Studio dashboard's password (studio passwd)

${helps.join('\n\n')}

Configuration: docs/configuration.md`;
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(`${await usage()}\n`);
    return 0;
  }
  const [name, args] = first === undefined || first.startsWith('-') ? ['start', argv] : [first, rest];
  const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!load) throw new FatalError(`unknown command "${name}" (commands: ${Object.keys(commands).join(', ')})`);
  const [run] = await load();
  return run(args);
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
