/** Secrets the auth module hands out, and how it keeps them: random from a CSPRNG, stored hashed. */
import crypto from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify, Algorithm } from '@node-rs/argon2';
import { verify as bcryptVerify } from '@node-rs/bcrypt';
import { isArgon2Hash, verifyFirebaseScrypt } from './password-hashes.js';

/** An opaque token for refresh tokens and links: 32 random bytes, base64url. */
export function randomToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

/** A code of `digits` digits (6 by default, 10 at most), uniformly drawn. */
export function randomCode(digits = 6): string {
  return crypto
    .randomInt(0, 10 ** digits)
    .toString()
    .padStart(digits, '0');
}

export function sha256(value: string): string {
  return crypto.createHash('sha256').update(value).digest('hex');
}

// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane (see docs/benchmarks.md for its cost here).
const ARGON2 = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return argon2Hash(password, ARGON2);
}

// Verifying against this when the user does not exist costs the same as a real check, so response
// time does not tell whether an email is registered.
const DUMMY_HASH = hashPassword(crypto.randomBytes(16).toString('hex'));

/** A bcrypt hash as GoTrue, Express apps and Supabase dumps store them: `$2a$`, `$2b$` or `$2y$`, cost, 53 characters. */
export const BCRYPT_HASH = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

/**
 * Constant-time password check; `stored` may be missing (unknown user, passwordless user). Hashes
 * Trellis makes are argon2id; bcrypt, argon2i/argon2id of other costs and Firebase scrypt hashes
 * come from imported users (a Supabase dump, an app's own users table, a Firebase export) and are
 * verified as they are, as GoTrue does (password-hashes.ts).
 */
export async function verifyPassword(stored: string | null | undefined, password: string): Promise<boolean> {
  if (stored && BCRYPT_HASH.test(stored)) return bcryptVerify(password, stored).catch(() => false);
  if (stored && stored.startsWith('$fbscrypt$')) return verifyFirebaseScrypt(stored, password).catch(() => false);
  const target = stored && isArgon2Hash(stored) ? stored : await DUMMY_HASH;
  const ok = await argon2Verify(target, password).catch(() => false);
  return ok && target === stored;
}

const OWN_ARGON2 = `$argon2id$v=19$m=${ARGON2.memoryCost},t=${ARGON2.timeCost},p=${ARGON2.parallelism}$`;

/**
 * Whether a verified hash should be replaced by Trellis's own (argon2id at today's cost): every
 * imported kind is, at the first sign-in, so that a user's sign-in soon costs what an unknown
 * address costs and timing tells them apart no more.
 */
export function needsRehash(stored: string | null | undefined): boolean {
  return typeof stored === 'string' && !stored.startsWith(OWN_ARGON2);
}

/** Compares two strings in time independent of where they differ. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(sha256(a));
  const y = Buffer.from(sha256(b));
  return crypto.timingSafeEqual(x, y);
}
