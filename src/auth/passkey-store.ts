/** What the passkey ceremonies and their management share: rows, the caller check, conversions. */
import type { Context } from 'hono';
import type { Tx } from '../db/index.js';
import { requireCaller, type AuthContext, type Caller } from './context.js';
import { errors } from './errors.js';
import type { StoredCredential } from './webauthn.js';

export interface CredentialRow {
  id: string;
  user_id: string;
  credential_id: Buffer;
  public_key: Buffer;
  sign_count: string;
  transports: string[];
  friendly_name: string;
  created_at: Date;
  last_used_at: Date | null;
}

/** A registering caller: signed in, not anonymous, and at aal2 when a second factor protects them. */
export async function registeringCaller(ctx: AuthContext, c: Context, tx: Tx): Promise<Caller> {
  const caller = await requireCaller(ctx, c, tx, true);
  if (caller.user.is_anonymous) throw errors.anonymousNotAllowed();
  const verified = await tx.query(`select 1 from auth.mfa_factors where user_id = $1 and status = 'verified'`, [
    caller.user.id,
  ]);
  if (verified.rowCount && caller.session.aal !== 'aal2') throw errors.passkeyInsufficientAal();
  return caller;
}

export async function credentialsOf(tx: Tx, userId: string): Promise<CredentialRow[]> {
  return (
    await tx.query<CredentialRow>(
      'select * from auth.webauthn_credentials where user_id = $1 order by created_at, id',
      [userId],
    )
  ).rows;
}

export function stored(row: CredentialRow): StoredCredential {
  return {
    id: row.credential_id.toString('base64url'),
    publicKey: row.public_key,
    counter: Number(row.sign_count),
    transports: row.transports,
  };
}

export function listItem(row: CredentialRow) {
  return {
    id: row.id,
    ...(row.friendly_name ? { friendly_name: row.friendly_name } : {}),
    created_at: row.created_at.toISOString(),
    ...(row.last_used_at ? { last_used_at: row.last_used_at.toISOString() } : {}),
  };
}
