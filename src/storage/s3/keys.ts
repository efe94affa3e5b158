/**
 * S3 access keys (`trellis storage keys create|list|revoke`): a 32-hex id and a 64-hex secret, as
 * Supabase's S3 keys look. SigV4 is an HMAC keyed by the secret, so the server needs the secret
 * itself, not a hash of it: it is kept sealed (AES-256-GCM under a key derived from the JWT
 * secret, which every instance holds) and shown only when made.
 */
import crypto from 'node:crypto';
import type { Tx } from '../../db/index.js';

export interface AccessKey {
  readonly id: string;
  readonly description: string;
  readonly created_at: Date;
  readonly revoked_at: Date | null;
}

type Query = Pick<Tx, 'query'>;

export function accessKeySealKey(jwtSecret: Uint8Array | string): Buffer {
  const secret = typeof jwtSecret === 'string' ? new TextEncoder().encode(jwtSecret) : jwtSecret;
  return Buffer.from(crypto.hkdfSync('sha256', secret, 'trellis', 's3-access-key-seal', 32));
}

function seal(key: Buffer, text: string): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  const sealed = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
}

function unseal(key: Buffer, sealed: string): string | undefined {
  try {
    const raw = Buffer.from(sealed, 'base64url');
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12), { authTagLength: 16 });
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return undefined; // sealed under another JWT secret: the key no longer works
  }
}

export async function createAccessKey(
  db: Query,
  jwtSecret: Uint8Array | string,
  description: string,
): Promise<{ id: string; secret: string }> {
  const id = crypto.randomBytes(16).toString('hex');
  const secret = crypto.randomBytes(32).toString('hex');
  await db.query('insert into storage.s3_access_keys (id, description, sealed_secret) values ($1, $2, $3)', [
    id,
    description,
    seal(accessKeySealKey(jwtSecret), secret),
  ]);
  return { id, secret };
}

export async function listAccessKeys(db: Query): Promise<AccessKey[]> {
  return (
    await db.query<AccessKey>(
      'select id, description, created_at, revoked_at from storage.s3_access_keys order by created_at, id',
    )
  ).rows;
}

/** Whether a key of that id was there to revoke. Its sealed secret is wiped: a revoked key is gone for good. */
export async function revokeAccessKey(db: Query, id: string): Promise<boolean> {
  const done = await db.query(
    "update storage.s3_access_keys set revoked_at = now(), sealed_secret = '' where id = $1 and revoked_at is null",
    [id],
  );
  return (done.rowCount ?? 0) > 0;
}

/** The secret of a live key, or undefined (unknown, revoked, or sealed under another JWT secret). */
export async function accessKeySecret(db: Query, sealKey: Buffer, id: string): Promise<string | undefined> {
  const row = (
    await db.query<{ sealed_secret: string }>(
      'select sealed_secret from storage.s3_access_keys where id = $1 and revoked_at is null',
      [id],
    )
  ).rows[0];
  return row ? unseal(sealKey, row.sealed_secret) : undefined;
}
