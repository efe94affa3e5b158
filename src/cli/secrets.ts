/** `trellis secrets`: the edge functions' secrets (set, list, unset), as `supabase secrets` manages them. */
import { createHash } from 'node:crypto';
import { loadConfig } from '../config.js';
import { FatalError } from '../errors.js';
import {
  functionSecretsFile,
  readFunctionSecrets,
  secretNameProblem,
  writeFunctionSecrets,
} from '../project/function-secrets.js';
import { readRuntimeState } from '../project/state.js';
import { parseFlags } from './args.js';

export const secretsHelp = `Usage: trellis secrets <command> [--dir D]

The edge functions' secrets, kept in D/.trellis/function-secrets.json (0600). Each is an
environment variable of every function (Deno.env.get('NAME')), never of the server itself. A
running Trellis gives the next call of each function the new values.

Commands:
  set NAME=value [NAME=value …]   add or replace secrets
  list [-o json]                  the names, and a digest of each value (never the value)
  unset NAME [NAME …]             remove secrets`;

const SUBCOMMANDS = ['set', 'list', 'unset'] as const;

export async function secretsCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(`${secretsHelp}\n`);
    return 0;
  }
  if (!(SUBCOMMANDS as readonly string[]).includes(sub))
    throw new FatalError(`unknown secrets command "${sub}" (commands: ${SUBCOMMANDS.join(', ')})`);
  const positional: string[] = [];
  const flagArgs: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    if (arg.startsWith('-')) {
      flagArgs.push(arg);
      const next = rest[i + 1];
      if (!arg.includes('=') && (arg === '--dir' || arg === '-o' || arg === '--output') && next !== undefined) {
        flagArgs.push(next);
        i += 1;
      }
    } else positional.push(arg);
  }
  const flags = parseFlags(`secrets ${sub}`, flagArgs, {
    dir: { type: 'string' },
    output: { type: 'string', short: 'o' },
  });
  if (flags.help) {
    process.stdout.write(`${secretsHelp}\n`);
    return 0;
  }
  const config = loadConfig(flags);
  const secrets = await readFunctionSecrets(config.dataDir);
  if (sub === 'list') {
    if (positional.length > 0)
      throw new FatalError(`unexpected argument "${positional[0]}" (see \`trellis secrets --help\`)`);
    const rows = Object.entries(secrets).map(([name, value]) => ({ name, digest: digest(value) }));
    if (flags.output === 'json') process.stdout.write(`${JSON.stringify(rows)}\n`);
    else if (flags.output !== undefined) throw new FatalError(`-o takes json (got "${String(flags.output)}")`);
    else if (rows.length === 0) process.stdout.write('no secrets\n');
    else for (const row of rows) process.stdout.write(`${row.name}\t${row.digest}\n`);
    return 0;
  }
  if (positional.length === 0)
    throw new FatalError(
      sub === 'set' ? 'what to set? `trellis secrets set NAME=value`' : 'which? `trellis secrets unset NAME`',
    );
  const next = { ...secrets };
  for (const arg of positional) {
    const eq = arg.indexOf('=');
    if (sub === 'set' && eq <= 0) throw new FatalError(`"${arg}" is not NAME=value`);
    const name = sub === 'set' ? arg.slice(0, eq) : arg;
    const problem = secretNameProblem(name);
    if (problem) throw new FatalError(problem);
    if (sub === 'set') {
      const value = arg.slice(eq + 1);
      if (value.includes('\0')) throw new FatalError(`the value of ${name} holds a NUL byte`);
      next[name] = value;
    } else {
      if (!(name in next)) throw new FatalError(`no secret named ${name}`);
      delete next[name];
    }
  }
  await writeFunctionSecrets(config.dataDir, next);
  const running = await readRuntimeState(config.dataDir);
  const applies = running ? ` (Trellis pid ${running.pid} uses them from the next call)` : '';
  const names = positional.map((a) => (sub === 'set' ? a.slice(0, a.indexOf('=')) : a));
  process.stdout.write(
    `${sub === 'set' ? 'set' : 'unset'} ${names.join(', ')}${applies}\nsecrets: ${functionSecretsFile(config.dataDir)}\n`,
  );
  return 0;
}

/** What `supabase secrets list` shows in place of a value: its SHA-256. */
function digest(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
