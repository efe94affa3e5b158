/**
 * First-start secrets, kept in `.trellis/secrets.json` (0600): the JWT secret, the embedded
 * database's password and the key database webhooks are signed with (added to an older file). The API keys are HS256 JWTs carrying only a `role`, as Supabase's are; they
 * are signed with fixed claims, so every instance sharing a JWT secret hands out the same keys.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { SignJWT } from 'jose';
import { z } from 'zod';
import { FatalError, errorMessage } from '../errors.js';

const storedSecrets = z.object({
  jwtSecret: z.string().min(32),
  dbPassword: z.string().min(16),
  /** Standard Webhooks form, `whsec_<base64>` (docs/webhooks.md); absent from files older than webhooks. */
  webhookSecret: z.string().startsWith('whsec_').optional(),
});
export type StoredSecrets = z.infer<typeof storedSecrets>;

export interface ApiKeys {
  readonly jwtSecret: string;
  readonly anonKey: string;
  readonly serviceRoleKey: string;
}

const SECRETS_FILE = 'secrets.json';
// Fixed issue time (2025-01-01) and a ten-year life, like a Supabase project's keys.
const KEY_ISSUED_AT = 1_735_689_600;
const KEY_LIFETIME_S = 10 * 365 * 24 * 3600;

/** Reads the secrets, creating them on first start. */
export async function loadOrCreateSecrets(dataDir: string): Promise<StoredSecrets> {
  const existing = await readSecrets(dataDir);
  // `--workers`: the primary reads the file before forking, so a worker never adds a second key.
  if (existing)
    return existing.webhookSecret
      ? existing
      : writeSecrets(dataDir, { ...existing, webhookSecret: newWebhookSecret() });
  // New secrets cannot open an existing embedded cluster: its password is in the lost file.
  const hasCluster = await fs.access(path.join(dataDir, 'pg', 'PG_VERSION')).then(
    () => true,
    () => false,
  );
  if (hasCluster) {
    throw new FatalError(
      `${path.join(dataDir, SECRETS_FILE)} is missing but ${path.join(dataDir, 'pg')} holds a database; restore the file from a backup`,
    );
  }
  const fresh: StoredSecrets = {
    jwtSecret: crypto.randomBytes(32).toString('base64url'),
    dbPassword: crypto.randomBytes(18).toString('base64url'),
    webhookSecret: newWebhookSecret(),
  };
  return writeSecrets(dataDir, fresh);
}

async function writeSecrets(dataDir: string, secrets: StoredSecrets): Promise<StoredSecrets> {
  const file = path.join(dataDir, SECRETS_FILE);
  const temp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temp, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  await fs.rename(temp, file);
  return secrets;
}

const newWebhookSecret = () => `whsec_${crypto.randomBytes(32).toString('base64')}`;

/** The key of a Standard Webhooks secret, `whsec_<base64>` (a `v1,` before it, as GoTrue writes it, is allowed). */
export function webhookSigningKey(secret: string): Buffer {
  return Buffer.from(secret.replace(/^v1,/, '').replace(/^whsec_/, ''), 'base64');
}

/** The stored secrets, or undefined before the first start. */
export async function readSecrets(dataDir: string): Promise<StoredSecrets | undefined> {
  const file = path.join(dataDir, SECRETS_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FatalError(`cannot read ${file}: ${errorMessage(err)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new FatalError(
      `${file} is not valid JSON; restore it from a backup (the embedded database's password is in it)`,
    );
  }
  const parsed = storedSecrets.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FatalError(
      `${file} is not a Trellis secrets file (${issue?.path.join('.') || 'value'}: ${issue?.message})`,
    );
  }
  return parsed.data;
}

export async function signApiKeys(jwtSecret: string): Promise<ApiKeys> {
  const sign = (role: string) =>
    new SignJWT({ iss: 'trellis', role })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt(KEY_ISSUED_AT)
      .setExpirationTime(KEY_ISSUED_AT + KEY_LIFETIME_S)
      .sign(new TextEncoder().encode(jwtSecret));
  const [anonKey, serviceRoleKey] = await Promise.all([sign('anon'), sign('service_role')]);
  return { jwtSecret, anonKey, serviceRoleKey };
}
