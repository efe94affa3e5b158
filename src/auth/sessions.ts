/**
 * Sessions, access tokens and refresh tokens. A refresh token is opaque, single-use and rotated:
 * using it revokes it and issues its child. Presenting a revoked token again is treated as theft and
 * revokes the whole session — unless it happens within the reuse interval (a client retrying after
 * a lost response), when a sibling is issued instead, as GoTrue allows.
 */
import crypto from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { Db, Tx } from '../db/index.js';
import type { ApiError } from '../errors.js';
import { randomToken, sha256 } from './crypto.js';
import { errors } from './errors.js';
import { seal, sealKey, unseal } from '../platform/seal.js';
import type { ClaimsCustomizer } from './hooks-claims.js';
import {
  factorsSql,
  findUserById,
  isBanned,
  USER_COLUMNS,
  userJsonOf,
  userListsSql,
  type UserLists,
  type UserRow,
} from './users.js';

export interface SessionSettings {
  /** Signs an access token with the project's signing key (tokens.sign). */
  readonly sign: (payload: JWTPayload) => Promise<string>;
  readonly jwtExpiry: number;
  readonly refreshReuseInterval: number;
  /** Seals the active refresh token of each session (platform/seal.ts). */
  readonly sealKey: Buffer;
  /** `iss` of access tokens: the API URL's /auth/v1, as GoTrue sets it. */
  readonly issuer: string;
  /** The custom_access_token hook, when enabled: it may rewrite every token's claims. */
  readonly customizeClaims?: ClaimsCustomizer | undefined;
  /**
   * Whether that hook must run in the grant's transaction (a Postgres function reads and writes
   * with it). An HTTP hook is called after the rotation committed, holding no lock or connection
   * while it waits on the network.
   */
  readonly claimsHookInTransaction?: boolean | undefined;
}

export interface SessionRow {
  id: string;
  user_id: string;
  aal: 'aal1' | 'aal2' | 'aal3';
  factor_id: string | null;
  not_after: Date | null;
  /** The OAuth-server client the session was issued to (its tokens carry `client_id`), if any. */
  oauth_client_id?: string | null;
  scopes?: string | null;
}

export interface SessionResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  expires_at: number;
  refresh_token: string;
  user: Record<string, unknown>;
}

export interface Client {
  readonly ip: string | undefined;
  readonly userAgent: string | undefined;
}

/**
 * Starts a session for a user who just proved `method` (password, otp, anonymous, …). `oauth` is
 * the OAuth-server client it is issued to: only that client may refresh it (see refresh).
 */
export async function startSession(
  tx: Tx,
  settings: SessionSettings,
  user: UserRow,
  method: string,
  client: Client,
  oauth?: { readonly clientId: string; readonly scopes: string },
): Promise<SessionResponse> {
  const token = randomToken();
  const row = (
    await tx.query<UserRow & UserLists & SessionColumns>(START_SQL, [
      crypto.randomUUID(),
      user.id,
      client.userAgent?.slice(0, 512) ?? null,
      client.ip ?? null,
      oauth?.clientId ?? null,
      oauth?.scopes ?? null,
      method,
      sha256(token),
      seal(settings.sealKey, token),
    ])
  ).rows[0];
  // The user row is gone only if it was deleted in between: a sign-in of nobody.
  if (!row) throw errors.userNotFound();
  return signedSession(tx, settings, row, sessionOf(row), row.amr ?? [], row, token, method);
}

export async function addAmr(tx: Tx, sessionId: string, method: string): Promise<void> {
  await tx.query(
    `insert into auth.mfa_amr_claims (session_id, authentication_method) values ($1, $2)
     on conflict (session_id, authentication_method) do update set updated_at = now()`,
    [sessionId, method],
  );
}

async function issueRefreshToken(
  tx: Tx,
  settings: SessionSettings,
  session: SessionRow,
  userId: string,
  parentHash: string | null,
): Promise<string> {
  const token = randomToken();
  await tx.query(
    `insert into auth.refresh_tokens (instance_id, token, user_id, parent, session_id, sealed)
     values ('00000000-0000-0000-0000-000000000000', $1, $2, $3, $4, $5)`,
    [sha256(token), userId, parentHash, session.id, seal(settings.sealKey, token)],
  );
  return token;
}

/** The key that seals refresh tokens, derived from the JWT secret (every instance derives the same). */
export function refreshSealKey(jwtSecret: Uint8Array): Buffer {
  return sealKey(jwtSecret, 'refresh-token-seal');
}

/** Issues a fresh token pair for an existing session (after MFA verification, a password change). */
export async function reissue(
  tx: Tx,
  settings: SessionSettings,
  user: UserRow,
  session: SessionRow,
): Promise<SessionResponse> {
  await tx.query(
    'update auth.refresh_tokens set revoked = true, sealed = null, updated_at = now() where session_id = $1 and not revoked',
    [session.id],
  );
  const token = await issueRefreshToken(tx, settings, session, user.id, null);
  return sessionResponse(tx, settings, user, session, token);
}

/**
 * grant_type=refresh_token. A live token, the grant every client makes each hour, is rotated by
 * one statement: it locks the token and its session, revokes the token, notes the refresh, issues
 * the child and reads back the user, their lists and the session's methods. Only when that
 * statement rotated nothing (an unknown, revoked or expired token, a banned user, another client's
 * session) does the grant take the careful path, which decides why in a transaction of its own.
 * `oauthClient` is the authenticated OAuth-server client (/oauth/token), null at /token: a session
 * is refreshed only by the client it was issued to, first-party ones only without a client.
 */
export async function refresh(
  db: Db,
  settings: SessionSettings,
  presented: string,
  client: Client,
  oauthClient: string | null,
): Promise<SessionResponse | ApiError> {
  // A custom_access_token hook in PostgreSQL runs in the grant's transaction (hooks-pg.ts).
  if (settings.customizeClaims && settings.claimsHookInTransaction)
    return db.transaction((tx) => refreshLocked(tx, settings, presented, client, oauthClient));
  const hash = sha256(presented);
  const token = randomToken();
  const row = (
    await db.query<UserRow & UserLists & SessionColumns>(ROTATE_SQL, [
      hash,
      client.userAgent?.slice(0, 512) ?? null,
      client.ip ?? null,
      sha256(token),
      seal(settings.sealKey, token),
      oauthClient,
    ])
  ).rows[0];
  if (!row) return db.transaction((tx) => refreshLocked(tx, settings, presented, client, oauthClient));
  return signedSession(db, settings, row, sessionOf(row), row.amr ?? [], row, token, 'token_refresh');
}

/** The session's columns beside the user's, in the one row START_SQL and ROTATE_SQL answer with. */
interface SessionColumns {
  readonly session_id: string;
  readonly session_aal: SessionRow['aal'];
  readonly session_factor_id: string | null;
  readonly session_not_after: Date | null;
  readonly session_oauth_client_id: string | null;
  readonly session_scopes: string | null;
  readonly amr: AmrClaim[] | null;
}

function sessionOf(row: UserRow & SessionColumns): SessionRow {
  return {
    id: row.session_id,
    user_id: row.id,
    aal: row.session_aal,
    factor_id: row.session_factor_id,
    not_after: row.session_not_after,
    oauth_client_id: row.session_oauth_client_id,
    scopes: row.session_scopes,
  };
}

/** GoTrue's refusal (tokens/service.go) when the session and the authenticated client disagree. */
function clientMismatch(sessionClient: string | null, oauthClient: string | null): ApiError | undefined {
  if (sessionClient === oauthClient) return undefined;
  if (sessionClient === null)
    return errors.oauthInvalidClient('Client authentication not allowed for non-OAuth session');
  if (oauthClient === null) return errors.oauthInvalidClient('Client authentication required for OAuth session');
  return errors.oauthInvalidClient("Client does not match the session's OAuth client");
}

/**
 * The careful path of a refresh grant, in a transaction: a token that is unknown, revoked (a retry,
 * or reuse), or whose session or user may no longer sign in. Reuse detection must outlive the
 * request's failure, so that outcome is returned as a value: the transaction commits the
 * revocation, then the caller reports the error.
 */
async function refreshLocked(
  tx: Tx,
  settings: SessionSettings,
  presented: string,
  client: Client,
  oauthClient: string | null,
): Promise<SessionResponse | ApiError> {
  const hash = sha256(presented);
  // The token and its session, both locked: two refreshes of one token queue here.
  const row = (
    await tx.query<SessionRow & { token_id: string; revoked: boolean; seconds_since_revoked: number }>(
      `select rt.id as token_id, rt.revoked, extract(epoch from now() - rt.updated_at)::float8 as seconds_since_revoked,
              s.id, s.user_id, s.aal, s.factor_id, s.not_after, s.oauth_client_id, s.scopes
       from auth.refresh_tokens rt join auth.sessions s on s.id = rt.session_id
       where rt.token = $1 for update of rt, s`,
      [hash],
    )
  ).rows[0];
  if (!row) throw errors.refreshNotFound();
  // Before reuse detection, as GoTrue: a wrong client's replay must not end the session.
  const mismatch = clientMismatch(row.oauth_client_id ?? null, oauthClient);
  if (mismatch) return mismatch;
  const session: SessionRow = {
    id: row.id,
    user_id: row.user_id,
    aal: row.aal,
    factor_id: row.factor_id,
    not_after: row.not_after,
    oauth_client_id: row.oauth_client_id ?? null,
    scopes: row.scopes ?? null,
  };
  if (session.not_after && session.not_after.getTime() < Date.now()) throw errors.sessionExpired();
  const user = await findUserById(tx, session.user_id);
  if (!user) throw errors.refreshNotFound();
  if (isBanned(user)) throw errors.userBanned();

  if (row.revoked) {
    // A retry within the reuse interval (a client that lost the response) gets the token its
    // first attempt was given, as on GoTrue: never a second live token, so a thief replaying an
    // old token cannot start a chain of their own. Anything else is reuse: end the session.
    // Measured by the database's clock, which also stamped updated_at.
    const sinceRevoked = row.seconds_since_revoked;
    const child =
      sinceRevoked <= settings.refreshReuseInterval
        ? (
            await tx.query<{ sealed: string | null; token: string }>(
              'select sealed, token from auth.refresh_tokens where parent = $1 and session_id = $2 and not revoked order by id desc limit 1',
              [hash, session.id],
            )
          ).rows[0]
        : undefined;
    const unsealed = child?.sealed ? unseal(settings.sealKey, child.sealed) : undefined;
    // The sealed copy must be of that very row's token.
    const active = unsealed !== undefined && sha256(unsealed) === child?.token ? unsealed : undefined;
    if (!active) {
      await tx.query('delete from auth.sessions where id = $1', [session.id]);
      return errors.refreshReused();
    }
    return sessionResponse(tx, settings, user, session, active, 'token_refresh');
  }
  // Revoke the presented token, note the refresh on the session and issue the child, in one
  // round trip.
  const token = randomToken();
  await tx.query(
    `with revoked as (update auth.refresh_tokens set revoked = true, sealed = null, updated_at = now() where id = $1),
          touched as (update auth.sessions set refreshed_at = now() at time zone 'utc', updated_at = now(),
                        user_agent = coalesce($3, user_agent), ip = coalesce($4, ip) where id = $2)
     insert into auth.refresh_tokens (instance_id, token, user_id, parent, session_id, sealed)
     values ('00000000-0000-0000-0000-000000000000', $5, $6, $7, $2, $8)`,
    [
      row.token_id,
      session.id,
      client.userAgent?.slice(0, 512) ?? null,
      client.ip ?? null,
      sha256(token),
      user.id,
      hash,
      seal(settings.sealKey, token),
    ],
  );
  return sessionResponse(tx, settings, user, session, token, 'token_refresh');
}

async function sessionResponse(
  tx: Tx,
  settings: SessionSettings,
  user: UserRow,
  session: SessionRow,
  refreshToken: string,
  method?: string,
): Promise<SessionResponse> {
  const read = (
    await tx.query<UserLists & { amr: AmrClaim[] | null }>(`select ${AMR_SQL('$1')}, ${userListsSql('$2')}`, [
      session.id,
      user.id,
    ])
  ).rows[0];
  return signedSession(tx, settings, user, session, read?.amr ?? [], read, refreshToken, method);
}

interface AmrClaim {
  readonly method: string;
  readonly timestamp: number;
}

/** The session's authentication methods, newest first, as the `amr` claim lists them (one json column). */
const AMR_SQL = (sessionId: string) =>
  `(select json_agg(json_build_object('method', authentication_method,
      'timestamp', extract(epoch from updated_at)::bigint) order by updated_at desc)
    from auth.mfa_amr_claims where session_id = ${sessionId}) as amr`;

const SESSION_COLUMNS = (t: string) =>
  `${t}.id as session_id, ${t}.aal as session_aal, ${t}.factor_id as session_factor_id, ${t}.not_after as session_not_after,
   ${t}.oauth_client_id as session_oauth_client_id, ${t}.scopes as session_scopes`;

// Rows come back only when the token was live: not revoked, its session not past not_after, its
// user neither deleted nor banned. Concurrent refreshes of one token queue on the lock; the one
// that waited then sees the token revoked, rotates nothing, and takes the careful path.
const ROTATE_SQL = `
  with current as (
    select rt.id as token_id, s.id as session_id, s.user_id
    from auth.refresh_tokens rt join auth.sessions s on s.id = rt.session_id
    where rt.token = $1 and not rt.revoked and (s.not_after is null or s.not_after > now())
      and s.oauth_client_id is not distinct from $6::uuid
    for update of rt, s
  ), live as (
    select c.token_id, c.session_id, u.id as user_id
    from current c join auth.users u on u.id = c.user_id
    where u.deleted_at is null and (u.banned_until is null or u.banned_until <= now())
  ), revoked as (
    update auth.refresh_tokens set revoked = true, sealed = null, updated_at = now()
    where id = (select token_id from live)
  ), touched as (
    update auth.sessions set refreshed_at = now() at time zone 'utc', updated_at = now(),
      user_agent = coalesce($2, user_agent), ip = coalesce($3, ip)
    where id = (select session_id from live)
    returning id, aal, factor_id, not_after, oauth_client_id, scopes
  ), child as (
    insert into auth.refresh_tokens (instance_id, token, user_id, parent, session_id, sealed)
    select '00000000-0000-0000-0000-000000000000', $4, live.user_id, $1, live.session_id, $5 from live
  )
  select ${USER_COLUMNS.replace(/(\w+)/g, 'u.$1')}, ${SESSION_COLUMNS('t')}, ${AMR_SQL('t.id')}, ${userListsSql('u.id')}
  from live join auth.users u on u.id = live.user_id join touched t on t.id = live.session_id`;

// A sign-in in one statement: the session, its method, the user's and identities' last sign-in,
// the first refresh token, and the answer's user, lists and amr. The statement's parts all see one
// snapshot, so the identities and the method are read from what their own parts wrote.
const START_SQL = `
  with session as (
    insert into auth.sessions (id, user_id, aal, user_agent, ip, refreshed_at, oauth_client_id, scopes)
    values ($1, $2, 'aal1', $3, $4, now() at time zone 'utc', $5, $6)
    returning id, aal, factor_id, not_after, oauth_client_id, scopes
  ), method as (
    insert into auth.mfa_amr_claims (session_id, authentication_method) select id, $7 from session
    returning authentication_method, updated_at
  ), signed_in as (
    update auth.users set last_sign_in_at = now() where id = $2 returning ${USER_COLUMNS}
  ), identities as (
    update auth.identities set last_sign_in_at = now() where user_id = $2 returning *
  ), token as (
    insert into auth.refresh_tokens (instance_id, token, user_id, parent, session_id, sealed)
    select '00000000-0000-0000-0000-000000000000', $8, $2, null, id, $9 from session
  )
  select u.*, ${SESSION_COLUMNS('s')},
    (select json_agg(json_build_object('method', authentication_method,
       'timestamp', extract(epoch from updated_at)::bigint)) from method) as amr,
    (select json_agg(i order by i.created_at) from identities i) as identities,
    ${factorsSql('u.id')}
  from signed_in u, session s`;

/** The access token and the answer of a grant, from what the database said about the session. */
async function signedSession(
  tx: Tx,
  settings: SessionSettings,
  user: UserRow,
  session: SessionRow,
  amr: readonly AmrClaim[],
  lists: UserLists | undefined,
  refreshToken: string,
  method?: string,
): Promise<SessionResponse> {
  const now = Math.floor(Date.now() / 1000);
  const expiresAt = now + settings.jwtExpiry;
  const claims = {
    aud: 'authenticated',
    exp: expiresAt,
    iat: now,
    iss: settings.issuer,
    sub: user.id,
    email: user.email ?? '',
    phone: user.phone ?? '',
    app_metadata: user.raw_app_meta_data,
    user_metadata: user.raw_user_meta_data,
    role: user.role ?? 'authenticated',
    aal: session.aal,
    amr: amr.map((r) => ({ method: r.method, timestamp: Number(r.timestamp) })),
    session_id: session.id,
    is_anonymous: user.is_anonymous,
    // A third-party client's token says whose it is, and what it was granted (GoTrue's claims).
    ...(session.oauth_client_id ? { client_id: session.oauth_client_id } : {}),
    ...(session.oauth_client_id && session.scopes ? { scope: session.scopes } : {}),
  };
  // GoTrue's custom_access_token hook: its claims replace these, whole (hooks-claims.ts checks them).
  const payload = settings.customizeClaims
    ? await settings.customizeClaims(tx, user.id, claims, method ?? amr[0]?.method ?? 'password')
    : claims;
  const accessToken = await settings.sign(payload);
  return {
    access_token: accessToken,
    token_type: 'bearer',
    expires_in: settings.jwtExpiry,
    expires_at: expiresAt,
    refresh_token: refreshToken,
    user: userJsonOf(user, lists),
  };
}

export async function findSession(tx: Tx, id: unknown): Promise<SessionRow | undefined> {
  if (typeof id !== 'string' || !/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  return (
    await tx.query<SessionRow>(
      'select id, user_id, aal, factor_id, not_after, oauth_client_id, scopes from auth.sessions where id = $1',
      [id],
    )
  ).rows[0];
}
