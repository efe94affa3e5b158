/**
 * The Studio dashboard's password, kept hashed in `.trellis/studio.json` (0600) beside the other
 * first-start secrets. The file also holds the key sign-in cookies are signed with: a new password
 * draws a new key, so changing it ends every Studio session at once.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { FatalError, errorMessage } from '../errors.js';

const scrypt = promisify(crypto.scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: crypto.ScryptOptions,
) => Promise<Buffer>;

const stored = z.object({
  /** `scrypt$N$r$p$<salt b64url>$<hash b64url>`. */
  passwordHash: z.string().startsWith('scrypt$'),
  /** HMAC key of the session cookies (base64url, 32 bytes). */
  sessionKey: z.string().min(32),
});
export type StudioSecret = z.infer<typeof stored>;

const FILE = 'studio.json';
const COST = { N: 16_384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
/** Shortest password `trellis studio passwd` accepts. */
export const MIN_STUDIO_PASSWORD = 8;

export const studioFile = (dataDir: string): string => path.join(dataDir, FILE);

/** The stored password hash and session key, or undefined before Studio's first start. */
export async function readStudioSecret(dataDir: string): Promise<StudioSecret | undefined> {
  let text: string;
  try {
    text = await fs.readFile(studioFile(dataDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FatalError(`cannot read ${studioFile(dataDir)}: ${errorMessage(err)}`);
  }
  const parsed = stored.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new FatalError(`${studioFile(dataDir)} is not a Studio secret file; remove it and start again`);
  return parsed.data;
}

/**
 * Makes the dashboard password on first start. Answers the new password (to be printed once) when
 * it made one, undefined when the file already existed.
 */
export async function ensureStudioPassword(dataDir: string): Promise<string | undefined> {
  if (await readStudioSecret(dataDir)) return undefined;
  // 18 random bytes: 24 characters a user can copy from a terminal without ambiguity of symbols.
  const password = crypto.randomBytes(18).toString('base64url');
  await setStudioPassword(dataDir, password);
  return password;
}

/** Replaces the password (and the session key, which signs every open session out). */
export async function setStudioPassword(dataDir: string, password: string): Promise<void> {
  if (password.length < MIN_STUDIO_PASSWORD)
    throw new FatalError(`the Studio password needs at least ${MIN_STUDIO_PASSWORD} characters`);
  const salt = crypto.randomBytes(16);
  const hash = await scrypt(password, salt, KEY_LENGTH, COST);
  const secret: StudioSecret = {
    passwordHash: `scrypt$${COST.N}$${COST.r}$${COST.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`,
    sessionKey: crypto.randomBytes(32).toString('base64url'),
  };
  const file = studioFile(dataDir);
  const temp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temp, `${JSON.stringify(secret, null, 2)}\n`, { mode: 0o600 });
  await fs.rename(temp, file);
}

/** Whether `password` is the one hashed in `secret` (constant time in the hash comparison). */
export async function checkStudioPassword(secret: StudioSecret, password: string): Promise<boolean> {
  const [, n, r, p, salt, hash] = secret.passwordHash.split('$');
  if (!n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const given = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}
