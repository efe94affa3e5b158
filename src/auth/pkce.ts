/**
 * PKCE for the emailed flows (RFC 7636, as GoTrue does it): a request that carries a code challenge
 * gets an `auth.flow_state` row and a mailed token prefixed `pkce_`; following the link hands the
 * browser an auth code (`?code=`) instead of tokens, and only the holder of the code verifier can
 * exchange that code for a session (`POST /token?grant_type=pkce`).
 */
import crypto from 'node:crypto';
import type { Context } from 'hono';
import { z } from 'zod';
import type { Tx } from '../db/index.js';
import { readJson } from '../platform/body.js';
import { respondJson } from '../platform/json.js';
import type { AuthContext } from './context.js';
import { authError, codes, errors } from './errors.js';
import type { AuthLimits } from './limits.js';
import { startSession } from './sessions.js';
import { findUserById, isBanned } from './users.js';

export const PKCE_PREFIX = 'pkce_';
/** GoTrue's flow-state lifetime (its minimum and default): how long an issued auth code may wait for grant_type=pkce. */
export const FLOW_STATE_EXPIRY_S = 300;

export interface PkceChallenge {
  readonly challenge: string;
  readonly method: 's256' | 'plain';
}

/** The body fields auth-js sends with flowType 'pkce' (null when it has no challenge to send). */
export const pkceFields = {
  code_challenge: z.string().max(1024).nullable().optional(),
  code_challenge_method: z.string().max(32).nullable().optional(),
};

const CHALLENGE = /^[A-Za-z0-9._~-]{43,128}$/;

/** Reads the challenge pair: both or neither (GoTrue's validatePKCEParams), checked before any I/O. */
export function parseChallenge(body: {
  code_challenge?: string | null | undefined;
  code_challenge_method?: string | null | undefined;
}): PkceChallenge | undefined {
  const challenge = body.code_challenge ?? '';
  const method = body.code_challenge_method ?? '';
  if (challenge === '' && method === '') return undefined;
  if (challenge === '' || method === '')
    throw errors.validation('PKCE flow requires code_challenge_method and code_challenge');
  if (challenge.length < 43 || challenge.length > 128)
    throw errors.validation('code challenge has to be between 43 and 128 characters');
  if (!CHALLENGE.test(challenge))
    throw errors.validation(
      'code challenge can only contain alphanumeric characters, hyphens, periods, underscores and tildes',
    );
  const lower = method.toLowerCase();
  if (lower !== 's256' && lower !== 'plain')
    throw errors.validation(`unsupported code_challenge method "${method.slice(0, 32)}"`);
  return { challenge, method: lower };
}

/**
 * Records the flow for `userId`; `method` is the amr the session will carry (GoTrue's
 * authentication_method). The user's flows no link can reach any more (`linkExpiryS`, the mailed
 * token's lifetime, plus a code's) go at the same time, so unfollowed links leave no rows behind.
 */
export async function createFlowState(
  tx: Tx,
  userId: string,
  method: string,
  pkce: PkceChallenge,
  linkExpiryS: number,
): Promise<void> {
  await tx.query(
    `delete from auth.flow_state
     where user_id = $1 and coalesce(auth_code_issued_at, created_at) < now() - make_interval(secs => $2)`,
    [userId, linkExpiryS + FLOW_STATE_EXPIRY_S],
  );
  await tx.query(
    `insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge, provider_type,
       authentication_method, created_at, updated_at)
     values ($1, $2, $3, $4::auth.code_challenge_method, $5, 'email', $6, now(), now())`,
    [crypto.randomUUID(), userId, crypto.randomUUID(), pkce.method, pkce.challenge, method],
  );
}

/** After a `pkce_` link verified: the newest flow of that user and method hands out its auth code. */
export async function issueAuthCode(tx: Tx, userId: string, method: string): Promise<string> {
  const found = await tx.query<{ auth_code: string }>(
    `update auth.flow_state set auth_code_issued_at = now(), updated_at = now()
     where id = (select id from auth.flow_state where user_id = $1 and authentication_method = $2
                 order by created_at desc limit 1 for update)
     returning auth_code`,
    [userId, method],
  );
  const code = found.rows[0]?.auth_code;
  if (!code)
    throw authError(400, 'flow_state_not_found', 'No associated flow state found. No valid flow state found for user.');
  return code;
}

function verifierMatches(pkce: PkceChallenge, verifier: string): boolean {
  const expected = pkce.method === 's256' ? crypto.createHash('sha256').update(verifier).digest('base64url') : verifier;
  const a = Buffer.from(expected);
  const b = Buffer.from(pkce.challenge);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

const grantBody = z.object({
  auth_code: z.string().max(256).optional(),
  code_verifier: z.string().max(1024).optional(),
});

interface FlowRow {
  id: string;
  user_id: string | null;
  code_challenge: string | null;
  code_challenge_method: 's256' | 'plain' | null;
  authentication_method: string;
  provider_access_token: string | null;
  provider_refresh_token: string | null;
  expired: boolean;
}

/** `POST /token?grant_type=pkce`: one exchange per code, within five minutes, for the verifier's holder. */
export async function pkceGrant(ctx: AuthContext, limits: AuthLimits, c: Context) {
  const body = await readJson(c, grantBody, codes);
  if (!body.auth_code || !body.code_verifier)
    throw errors.validation('invalid request: both auth code and code verifier should be non-empty');
  const { auth_code: authCode, code_verifier: verifier } = body;
  const client = ctx.client(c);
  // GoTrue counts every /token grant but password sign-ins against its token (refresh) budget.
  await ctx.limit(limits.tokenRefresh, client.ip);
  const outcome = await ctx.db.transaction(async (tx) => {
    // A code expires five minutes after the followed link handed it out. GoTrue counts from the
    // flow's start for all but magic links, so a sign-up or recovery link followed after five
    // minutes would be spent for an unusable code; the link's own expiry already bounds that wait.
    const found = await tx.query<FlowRow>(
      `select id, user_id, code_challenge, code_challenge_method, authentication_method, provider_access_token,
         provider_refresh_token,
         coalesce(auth_code_issued_at, created_at) + make_interval(secs => $2) < now() as expired
       from auth.flow_state where auth_code = $1 for update`,
      [authCode, FLOW_STATE_EXPIRY_S],
    );
    const flow = found.rows[0];
    if (!flow?.user_id || !flow.code_challenge || !flow.code_challenge_method)
      return authError(404, 'flow_state_not_found', 'invalid flow state, no valid flow state found');
    if (flow.expired) {
      await tx.query('delete from auth.flow_state where id = $1', [flow.id]);
      return authError(422, 'flow_state_expired', 'invalid flow state, flow state has expired');
    }
    const user = await findUserById(tx, flow.user_id);
    if (!user) return authError(404, 'flow_state_not_found', 'invalid flow state, no valid flow state found');
    if (!verifierMatches({ challenge: flow.code_challenge, method: flow.code_challenge_method }, verifier))
      return authError(400, 'bad_code_verifier', 'code challenge does not match previously saved code verifier');
    if (isBanned(user)) return errors.userBanned();
    // Used once: the code goes with the session it gave.
    await tx.query('delete from auth.flow_state where id = $1', [flow.id]);
    const session = await startSession(tx, ctx.settings, user, flow.authentication_method, client);
    // An OAuth flow hands the app the provider's tokens too, as the implicit redirect does.
    return flow.provider_access_token
      ? {
          ...session,
          provider_token: flow.provider_access_token,
          ...(flow.provider_refresh_token ? { provider_refresh_token: flow.provider_refresh_token } : {}),
        }
      : session;
  });
  if (outcome instanceof Error) throw outcome;
  return respondJson(c, outcome);
}
