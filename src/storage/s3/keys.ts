/**
 * S3 access keys (`trellis storage keys create|list|revoke`): a 32-hex id and a 64-hex secret, as
 * Supabase's S3 keys look. SigV4 is an HMAC keyed by the secret, so the server needs the secret
 * itself, not a hash of it: it is kept sealed (AES-256-GCM under a key derived from the JWT
 * secret, which every instance holds) and shown only when made.
 */
import crypto from 'node:crypto';
import type { Tx } from '../../db/index.js';
import { seal, sealKey, unseal } from '../../platform/seal.js';

export interface AccessKey {
  readonly id: string;
  readonly description: string;
  readonly created_at: Date;
  readonly revoked_at: Date | null;
}

type Query = Pick<Tx, 'query'>;

export function accessKeySealKey(jwtSecret: Uint8Array | string): Buffer {
  return sealKey(jwtSecret, 's3-access-key-seal');
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
