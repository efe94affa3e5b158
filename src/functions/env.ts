/**
 * A function's environment, as Supabase's edge runtime gives it: the project's URL and keys, the
 * database URL, then supabase/functions/.env (what `supabase functions serve` reads) and the secrets
 * of `trellis secrets set` over it. The SUPABASE_* names are the runtime's and win.
 */
import fs from 'node:fs/promises';
import { parseEnv } from 'node:util';
import { readFunctionSecrets } from '../project/function-secrets.js';

export interface ProjectEnv {
  readonly url: string;
  readonly anonKey: string;
  readonly serviceRoleKey: string;
  readonly dbUrl: string;
}

export async function functionEnv(
  project: ProjectEnv,
  dotenvFile: string,
  dataDir: string,
): Promise<Record<string, string>> {
  const text = await fs.readFile(dotenvFile, 'utf8').catch(() => '');
  const dotenv = Object.fromEntries(
    Object.entries(parseEnv(text)).filter((e): e is [string, string] => e[1] !== undefined),
  );
  return {
    ...dotenv,
    ...(await readFunctionSecrets(dataDir)),
    SUPABASE_URL: project.url,
    SUPABASE_ANON_KEY: project.anonKey,
    SUPABASE_SERVICE_ROLE_KEY: project.serviceRoleKey,
    SUPABASE_DB_URL: project.dbUrl,
  };
}
