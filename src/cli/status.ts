/** `trellis status`: the URLs and keys of the Trellis running on a project folder. */
import { loadConfig } from '../config.js';
import { FatalError } from '../errors.js';
import { signApiKeys } from '../project/secrets.js';
import { readRuntimeState } from '../project/state.js';
import { parseFlags } from './args.js';

export const statusHelp = `Usage: trellis status [--dir D] [-o json]

Prints the API URL, database URL, API keys and JWT secret of the Trellis running on D (default .).
With -o json, one JSON object: {"API_URL","DB_URL","ANON_KEY","SERVICE_ROLE_KEY","JWT_SECRET"}.`;

export async function statusCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('status', argv, { dir: { type: 'string' }, output: { type: 'string', short: 'o' } });
  if (flags.help) {
    process.stdout.write(`${statusHelp}\n`);
    return 0;
  }
  if (flags.output !== undefined && flags.output !== 'json' && flags.output !== 'table') {
    throw new FatalError(`unknown output format "${String(flags.output)}" (use json or table)`, '-o');
  }
  const config = loadConfig(flags);
  const state = await readRuntimeState(config.dataDir);
  if (!state) {
    throw new FatalError(
      `Trellis is not running in ${config.dir} (start it with \`trellis start --dir ${config.dir}\`)`,
    );
  }
  const keys = await signApiKeys(state.jwtSecret);
  const status = {
    API_URL: state.apiUrl,
    DB_URL: state.dbUrl,
    ANON_KEY: keys.anonKey,
    SERVICE_ROLE_KEY: keys.serviceRoleKey,
    JWT_SECRET: keys.jwtSecret,
  };
  if (flags.output === 'json') {
    process.stdout.write(`${JSON.stringify(status)}\n`);
  } else {
    const width = Math.max(...Object.keys(status).map((k) => k.length));
    const rows = Object.entries(status).map(([k, v]) => `${k.padStart(width)}  ${v}`);
    process.stdout.write(`Trellis is running (pid ${state.pid}).\n\n${rows.join('\n')}\n`);
  }
  return 0;
}
