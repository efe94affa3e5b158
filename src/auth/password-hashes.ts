/**
 * The imported password hashes GoTrue verifies (internal/crypto/password.go), besides bcrypt:
 * argon2i and argon2id (and argon2d) in PHC form (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`, no keyid or data, within
 * GoTrue's cost limits), and Firebase's modified scrypt
 * (`$fbscrypt$v=1,n=…,r=…,p=…,ss=<base64>,sk=<base64>$<salt base64>$<hash base64>`): the key
 * scrypt(password, salt ‖ salt separator, N=2^n, r, p, 32 bytes) encrypts the signer key with
 * AES-256-CTR under a zero IV, and the ciphertext is the hash. Pure parsing, so both are tested by table.
 */
import crypto from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(crypto.scrypt) as (
  password: crypto.BinaryLike,
  salt: crypto.BinaryLike,
  keylen: number,
  options: crypto.ScryptOptions,
) => Promise<Buffer>;

// GoTrue's argon2HashRegexp, with the parts it then refuses (keyid, data, other versions) refused
// here. argon2d, which GoTrue refuses, stays accepted: Trellis verified it before (`trellis import`
// takes it), and users imported with it must still sign in.
const ARGON2 =
  /^\$(argon2i|argon2id|argon2d)\$v=19\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/**
 * An argon2 hash Trellis will verify: version 19, salt and hash present, m ≤ 256 MiB, t ≤ 10,
 * p ≤ 16. GoTrue allows m up to 1 GiB and t up to 20; anyone who knows an imported user's address
 * can make the server verify that user's hash, and a few parallel 1 GiB verifications would take a
 * small server's memory, so the cost is bounded lower (OWASP's argon2id settings use 19–46 MiB).
 */
export function isArgon2Hash(hash: string): boolean {
  const m = ARGON2.exec(hash);
  if (!m) return false;
  const [memory, time, threads] = [Number(m[2]), Number(m[3]), Number(m[4])];
  return memory <= MAX_ARGON2_MEMORY_KIB && time <= 10 && threads <= 16;
}

const MAX_ARGON2_MEMORY_KIB = 256 * 1024;

export interface FirebaseScryptHash {
  readonly n: number;
  readonly r: number;
  readonly p: number;
  readonly saltSeparator: Buffer;
  readonly signerKey: Buffer;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

const FBSCRYPT = /^\$fbscrypt\$v=(\d+),n=(\d+),r=(\d+),p=(\d+)(?:,ss=([^,$]+))?(?:,sk=([^$]+))?\$([^$]+)\$(.+)$/;
// Standard base64 with padding, as Go's StdEncoding insists on.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/**
 * scrypt needs 128·N·r bytes, p times over in time; beyond this one sign-in could take the
 * server's memory or seconds of CPU (Firebase's own parameters, n=14 r=8 p=1, need 16 MiB).
 */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;

function base64(text: string | undefined): Buffer | undefined {
  if (text === undefined) return Buffer.alloc(0);
  return BASE64.test(text) ? Buffer.from(text, 'base64') : undefined;
}

/** The parts of a Firebase scrypt hash, or undefined when it is malformed or too costly to verify. */
export function parseFirebaseScrypt(hash: string): FirebaseScryptHash | undefined {
  const m = FBSCRYPT.exec(hash);
  if (!m || m[1] !== '1') return undefined;
  const [n, r, p] = [Number(m[2]), Number(m[3]), Number(m[4])];
  if (!(n >= 1 && n <= 30 && r >= 1 && r <= 1024 && p >= 1 && p <= 16)) return undefined;
  if (128 * 2 ** n * r * p > MAX_SCRYPT_MEMORY) return undefined;
  const [saltSeparator, signerKey, salt, raw] = [base64(m[5]), base64(m[6]), base64(m[7]), base64(m[8])];
  if (!saltSeparator || !signerKey || !salt || !raw || raw.length === 0) return undefined;
  return { n, r, p, saltSeparator, signerKey, salt, hash: raw };
}

/** Firebase's derivation: the signer key, AES-256-CTR-encrypted under the scrypt key with a zero IV. */
export async function firebaseScryptDigest(password: string, h: FirebaseScryptHash): Promise<Buffer> {
  const key = await scrypt(Buffer.from(password, 'utf8'), Buffer.concat([h.salt, h.saltSeparator]), 32, {
    N: 2 ** h.n,
    r: h.r,
    p: h.p,
    maxmem: MAX_SCRYPT_MEMORY + 1024 * 1024,
  });
  const cipher = crypto.createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(h.signerKey), cipher.final()]);
}

export async function verifyFirebaseScrypt(stored: string, password: string): Promise<boolean> {
  const parsed = parseFirebaseScrypt(stored);
  if (!parsed) return false;
  const digest = await firebaseScryptDigest(password, parsed);
  return digest.length === parsed.hash.length && crypto.timingSafeEqual(digest, parsed.hash);
}

/** A hash `password_hash` (POST /admin/users) may import: one of these, or bcrypt (crypto.ts). */
export function isImportedHashFormat(hash: string): boolean {
  return isArgon2Hash(hash) || parseFirebaseScrypt(hash) !== undefined;
}
