/**
 * The edge functions' secrets (`trellis secrets set NAME=value`), kept in the data folder beside
 * the project's other secrets, in `.trellis/function-secrets.json` (0600). They reach the functions'
 * environment only: the server's own process never has them in process.env.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { FatalError, errorMessage } from '../errors.js';

const FILE = 'function-secrets.json';
const stored = z.record(z.string(), z.string());

/** The Supabase CLI's rule: an environment variable name, and SUPABASE_* is the platform's. */
export function secretNameProblem(name: string): string | undefined {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    return `"${name}" is not a secret name: letters, digits and "_", not starting with a digit`;
  if (name.toUpperCase().startsWith('SUPABASE_'))
    return `"${name}": names starting with SUPABASE_ are reserved (the runtime sets them)`;
  return undefined;
}

export function functionSecretsFile(dataDir: string): string {
  return path.join(dataDir, FILE);
}

export async function readFunctionSecrets(dataDir: string): Promise<Record<string, string>> {
  const file = functionSecretsFile(dataDir);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new FatalError(`cannot read ${file}: ${errorMessage(err)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new FatalError(`${file} is not valid JSON`);
  }
  const parsed = stored.safeParse(json);
  if (!parsed.success) throw new FatalError(`${file} is not a function secrets file (an object of strings)`);
  return parsed.data;
}

export async function writeFunctionSecrets(dataDir: string, secrets: Readonly<Record<string, string>>): Promise<void> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o711 });
  const file = functionSecretsFile(dataDir);
  const temp = `${file}.${process.pid}.tmp`;
  const sorted = Object.fromEntries(Object.entries(secrets).sort(([a], [b]) => a.localeCompare(b)));
  await fs.writeFile(temp, `${JSON.stringify(sorted, null, 2)}\n`, { mode: 0o600 });
  await fs.rename(temp, file);
}
