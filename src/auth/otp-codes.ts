/**
 * One-time codes, emailed or texted: how they are kept (auth.one_time_tokens, SHA-256 of
 * "address:code", so a stolen table reveals no code and a code works only for the address it went
 * to), checked in constant time, and counted when guessed wrong. email.ts and phone.ts share these.
 */
import type { Tx } from '../db/index.js';
import { randomToken, safeEqual, sha256 } from './crypto.js';

/** What a code is kept as: bound to the address (email or phone digits) it was sent to. */
export function codeHash(address: string, code: string): string {
  return sha256(`${address}:${code}`);
}

export function codeMatches(storedHash: string, address: string, code: string): boolean {
  return safeEqual(storedHash, codeHash(address, code));
}

/**
 * Keeps a texted code for `userId`, replacing that user's previous one of `type`, and resolves to
 * the hash it keeps (what a failed send removes, and only while it is still this one). A texted
 * code has no link; the row's link hash is of a random token nobody holds, so no link can consume
 * it. `dropsPassword` marks the code as asked for by someone other than whoever chose the pending
 * account's password; the mark stays on the row until it is used, as email.ts's does.
 */
export async function storeCode(
  tx: Tx,
  token: { userId: string; type: string; address: string; code: string; expiresInS: number; dropsPassword?: boolean },
): Promise<string> {
  const hash = codeHash(token.address, token.code);
  await tx.query(
    `insert into auth.one_time_tokens (user_id, token_type, code_hash, link_hash, relates_to, expires_at, drops_password)
     values ($1, $2, $3, $4, $5, now() + make_interval(secs => $6), $7)
     on conflict (user_id, token_type) do update set code_hash = excluded.code_hash, link_hash = excluded.link_hash,
       relates_to = excluded.relates_to, created_at = now(), expires_at = excluded.expires_at, failed_attempts = 0,
       drops_password = auth.one_time_tokens.drops_password or excluded.drops_password`,
    [
      token.userId,
      token.type,
      hash,
      sha256(randomToken()),
      token.address,
      token.expiresInS,
      token.dropsPassword ?? false,
    ],
  );
  return hash;
}

/**
 * A code of 6 to 10 digits is guessable: each wrong try counts against every token it was tried on,
 * and the one that reaches AUTH_OTP_MAX_ATTEMPTS deletes the token (its link too). GoTrue relies on
 * the per-IP verify limit alone, which guesses from many addresses get around.
 */
export async function countWrongCode(tx: Tx, tokenIds: readonly string[], maxAttempts: number): Promise<void> {
  if (tokenIds.length === 0) return;
  await tx.query('update auth.one_time_tokens set failed_attempts = failed_attempts + 1 where id = any($1::uuid[])', [
    tokenIds,
  ]);
  await tx.query('delete from auth.one_time_tokens where id = any($1::uuid[]) and failed_attempts >= $2', [
    tokenIds,
    maxAttempts,
  ]);
}
