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

/** A VAPID token lasts this long (RFC 8292 allows up to 24 h) and is made again with less than an hour left. */
const TOKEN_SECONDS = 12 * 3600;
const RENEW_SECONDS = 3600;

/**
 * The Authorization header for a push service's origin, signed once per origin and reused until
 * it nears expiry: signing (ES256, with web-push's key conversion) costs more than the push's
 * encryption, and a project's pushes go to a few origins.
 */
export function vapidAuthorizer(keys: VapidKeys, now: () => number = Date.now): (endpoint: string) => string {
  const tokens = new Map<string, { header: string; expires: number }>();
  return (endpoint) => {
    const audience = new URL(endpoint).origin;
    const seconds = Math.floor(now() / 1000);
    const kept = tokens.get(audience);
    if (kept && kept.expires - seconds > RENEW_SECONDS) return kept.header;
    const expires = seconds + TOKEN_SECONDS;
    const header = webpush.getVapidHeaders(
      audience,
      keys.subject,
      keys.publicKey,
      keys.privateKey,
      'aes128gcm',
      expires,
    ).Authorization;
    tokens.set(audience, { header, expires });
    return header;
  };
}
