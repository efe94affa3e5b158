/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp`
 * (seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. Pure.
 */
import crypto from 'node:crypto';

/** The three headers that sign `body` under each of `keys` (several during a rotation: one signature each). */
export function signatureHeaders(
  keys: readonly Buffer[],
  id: string,
  timestampS: number,
  body: Buffer,
): Record<string, string> {
  const sign = (key: Buffer) =>
    `v1,${crypto.createHmac('sha256', key).update(`${id}.${timestampS}.`).update(body).digest('base64')}`;
  return { 'webhook-id': id, 'webhook-timestamp': String(timestampS), 'webhook-signature': keys.map(sign).join(' ') };
}
