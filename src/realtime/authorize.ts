/**
 * Who a channel's caller is (the access token, or the apikey when the join carries none) and, on a
 * private channel, what the project's RLS policies on realtime.messages let it do. The refusal
 * texts are Supabase Realtime's, code first, so clients that match on them keep working.
 */
import type { Db } from '../db/index.js';
import type { JwtClaims, Tokens } from '../platform/tokens.js';

export type TokenCheck =
  | { readonly ok: true; readonly claims: JwtClaims & { role: string; exp: number } }
  | { readonly ok: false; readonly reason: string };

export async function checkToken(tokens: Tokens, token: string, now = Date.now()): Promise<TokenCheck> {
  const check = await tokens.checkBearer(token);
  if (!check.ok) {
    const { problem } = check;
    switch (problem.kind) {
      case 'expired':
        return {
          ok: false,
          reason: `InvalidJWTToken: Token has expired ${Math.max(0, Math.floor(now / 1000 - (problem.expiredAt ?? now / 1000)))} seconds ago`,
        };
      case 'bad_signature':
      case 'bad_algorithm':
      case 'unknown_key':
        return { ok: false, reason: 'JwtSignatureError: Failed to validate JWT signature' };
      case 'no_role':
        return { ok: false, reason: 'InvalidJWTToken: Fields `role` and `exp` are required in JWT' };
      case 'session_revoked':
        return { ok: false, reason: 'InvalidJWTToken: Session from session_id claim in JWT does not exist' };
      case 'not_api_role':
        return { ok: false, reason: `InvalidJWTToken: role "${problem.role.slice(0, 64)}" is not allowed` };
      default:
        return { ok: false, reason: 'MalformedJWT: The token provided is not a valid JWT' };
    }
  }
  if (typeof check.claims.exp !== 'number')
    return { ok: false, reason: 'InvalidJWTToken: Fields `role` and `exp` are required in JWT' };
  return { ok: true, claims: check.claims as JwtClaims & { role: string; exp: number } };
}

export interface TopicPolicies {
  readonly broadcastRead: boolean;
  readonly presenceRead: boolean;
  readonly broadcastWrite: boolean;
  readonly presenceWrite: boolean;
}

export const PUBLIC_TOPIC: TopicPolicies = {
  broadcastRead: true,
  presenceRead: true,
  broadcastWrite: true,
  presenceWrite: true,
};

/** One round trip: the four answers of realtime.trellis_policies under the caller's role and claims. */
export async function topicPolicies(
  db: Db,
  claims: JwtClaims & { role: string },
  subTopic: string,
): Promise<TopicPolicies> {
  const { rows } = await db.withClaims(claims, (tx) =>
    tx.query<{ broadcast_read: boolean; presence_read: boolean; broadcast_write: boolean; presence_write: boolean }>(
      'select * from realtime.trellis_policies($1)',
      [subTopic],
    ),
  );
  const row = rows[0];
  return {
    broadcastRead: row?.broadcast_read === true,
    presenceRead: row?.presence_read === true,
    broadcastWrite: row?.broadcast_write === true,
    presenceWrite: row?.presence_write === true,
  };
}

export const readDenied = (subTopic: string) =>
  `Unauthorized: You do not have permissions to read from this Channel topic: ${subTopic}`;
