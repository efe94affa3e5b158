/**
 * The signing-key file's life cycle, pure: generate, rotate, revoke over a JSON array of private
 * JWKs in the Supabase CLI's format. Who signs is written in the file itself, as GoTrue reads it:
 * the signing key is first with `key_ops: ["sign", "verify"]`, the others carry `["verify"]`
 * (they still verify the tokens they signed, until revoked, i.e. removed).
 */
import crypto from 'node:crypto';
import type { JWK } from 'jose';
import { parseKeyList, signingEntry, type KeyEntry } from '../platform/keyset.js';

export type AsymmetricAlgorithm = 'ES256' | 'RS256';

/** A new private key as `supabase gen signing-key` writes it (kid, use, key_ops, alg, ext). */
export function generateKey(alg: AsymmetricAlgorithm): JWK {
  const { privateKey } =
    alg === 'ES256'
      ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  return { kid: crypto.randomUUID(), use: 'sig', key_ops: ['sign', 'verify'], alg, ext: true, ...jwk };
}

export type KeyChange = { ok: true; keys: JWK[]; message: string } | { ok: false; message: string };

/** Adds `key`: it signs when the file has no signing key yet, else it waits (verify only) until `rotate`. */
export function addKey(keys: readonly JWK[], key: JWK): KeyChange {
  const current = entries(keys);
  if (!current.ok) return current;
  if (signingEntry(current.keys) === undefined)
    return { ok: true, keys: [asSigner(key), ...keys], message: `${key.kid} (${key.alg}) signs new tokens` };
  return {
    ok: true,
    keys: [...keys, asVerifier(key)],
    message: `${key.kid} (${key.alg}) added as a standby key: published, verifies, signs after \`trellis keys rotate ${key.kid}\``,
  };
}

/** Makes `kid` (a key of the file) the signing key; the previous one keeps verifying. */
export function rotateTo(keys: readonly JWK[], kid: string): KeyChange {
  const current = entries(keys);
  if (!current.ok) return current;
  const target = current.keys.find((k) => k.kid === kid);
  if (!target) return { ok: false, message: `no key ${kid} in the file (see \`trellis keys list\`)` };
  if (target.publicJwk !== undefined && target.jwk.d === undefined)
    return { ok: false, message: `key ${kid} has no private part and cannot sign` };
  const previous = signingEntry(current.keys);
  const chosen = keys.find((k) => k.kid === kid) as JWK;
  const rest = keys.filter((k) => k.kid !== kid).map(asVerifier);
  const was = previous && previous.kid !== kid ? `; ${previous.kid} now only verifies` : '';
  return { ok: true, keys: [asSigner(chosen), ...rest], message: `${kid} (${target.alg}) signs new tokens${was}` };
}

/** Removes `kid`: its tokens stop verifying. The signing key cannot go (rotate first). */
export function revokeKey(keys: readonly JWK[], kid: string): KeyChange {
  const current = entries(keys);
  if (!current.ok) return current;
  if (!current.keys.some((k) => k.kid === kid))
    return { ok: false, message: `no key ${kid} in the file (see \`trellis keys list\`)` };
  if (signingEntry(current.keys)?.kid === kid)
    return {
      ok: false,
      message: `${kid} signs new tokens; make another key sign first (\`trellis keys rotate\`), then revoke it`,
    };
  return {
    ok: true,
    keys: keys.filter((k) => k.kid !== kid),
    message: `${kid} revoked: tokens it signed are refused from the next start`,
  };
}

function entries(keys: readonly JWK[]): { ok: true; keys: KeyEntry[] } | { ok: false; message: string } {
  return parseKeyList(keys);
}

function asSigner(key: JWK): JWK {
  return { ...key, key_ops: ['sign', 'verify'] };
}

function asVerifier(key: JWK): JWK {
  return { ...key, key_ops: ['verify'] };
}
