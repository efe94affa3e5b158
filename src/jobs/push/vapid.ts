/**
 * The project's VAPID key pair: the settings' when set, else one pair kept in the database and
 * made by the first instance to start. A browser's subscription is bound to the public key it was
 * made with (its applicationServerKey), so every instance must sign with the same private key: a
 * pair per instance, or a new one per start, would make pushes fail with 403 at the push service.
 */
import webpush from 'web-push';
import type { Config } from '../../config.js';
import type { Db } from '../../db/index.js';
import { VAPID_KEEP, VAPID_READ } from './sql.js';

export interface VapidKeys {
  readonly publicKey: string;
  readonly privateKey: string;
  readonly subject: string;
}

export async function loadVapidKeys(db: Db, settings: Config['push']): Promise<VapidKeys> {
  if (settings.vapid) return { ...settings.vapid, subject: settings.subject };
  const made = webpush.generateVAPIDKeys();
  await db.query(VAPID_KEEP, [made.publicKey, made.privateKey]);
  const row = (await db.query<{ public_key: string; private_key: string }>(VAPID_READ)).rows[0];
  if (!row) throw new Error('trellis.push_vapid_keys has no key pair after one was stored');
  return { publicKey: row.public_key, privateKey: row.private_key, subject: settings.subject };
}
