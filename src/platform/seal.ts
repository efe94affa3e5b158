/**
 * Secrets the server must read back (refresh tokens to hand out again, S3 secret keys to check
 * SigV4 with) are kept sealed: AES-256-GCM under a key derived from the JWT secret, which every
 * instance holds. The sealed form is base64url(iv ‖ tag ‖ ciphertext).
 */
import crypto from 'node:crypto';

/** The sealing key for `purpose`, derived from the JWT secret (every instance derives the same). */
export function sealKey(jwtSecret: Uint8Array | string, purpose: string): Buffer {
  const secret = typeof jwtSecret === 'string' ? new TextEncoder().encode(jwtSecret) : jwtSecret;
  return Buffer.from(crypto.hkdfSync('sha256', secret, 'trellis', purpose, 32));
}

export function seal(key: Buffer, text: string): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  const sealed = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
}

/** The text, or undefined when sealed under another key (the JWT secret changed). */
export function unseal(key: Buffer, sealed: string): string | undefined {
  try {
    const raw = Buffer.from(sealed, 'base64url');
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12), { authTagLength: 16 });
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
