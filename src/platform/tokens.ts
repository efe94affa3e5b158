/**
 * The one check of a bearer token, for every module: the project's key set (the HS256 secret and
 * any ES256/RS256 signing keys, chosen by the token's `kid`), one cache of verified tokens, and an
 * answer that is a value (claims, or why not). Each module words a refusal in its own API's
 * dialect (GoTrue's, PostgREST's, storage-api's, Realtime's).
 */
import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { API_ROLES, type Claims } from '../db/index.js';
import {
  KeyAlgorithmError,
  secretKeySet,
  UnknownKeyError,
  VERIFY_ALGORITHMS,
  type KeySet,
  type PublicJwk,
} from './keyset.js';
import type { Revoked, SessionCheck } from './sessions.js';

export type JwtClaims = JWTPayload & { role?: string; [claim: string]: unknown };

/** Why a token was refused. */
export type TokenProblem =
  | { readonly kind: 'missing' }
  | { readonly kind: 'expired'; readonly expiredAt: number | undefined }
  | { readonly kind: 'bad_signature' }
  | { readonly kind: 'bad_algorithm' }
  /** The header names no key of the set (an unknown or revoked `kid`, or an asymmetric token without one). */
  | { readonly kind: 'unknown_key'; readonly kid: string | undefined; readonly alg: string }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'no_role' }
  | { readonly kind: 'not_api_role'; readonly role: string }
  /** The token's session was deleted (only with the session check on). */
  | { readonly kind: 'session_revoked' };

export type BearerCheck =
  { readonly ok: true; readonly claims: Claims & JwtClaims } | { readonly ok: false; readonly problem: TokenProblem };

export interface Tokens {
  /** The project's JWT secret as bytes, for what stays HS256 (storage URLs, the refresh-token seal). */
  readonly secret: Uint8Array;
  /**
   * Verifies a JWT with the key its header names (HS256 without `kid`: the secret); `alg: none`,
   * other algorithms, an unknown or revoked `kid`, a bad signature or an expired token throw.
   */
  verify(token: string): Promise<JwtClaims>;
  /** Signs an access token with the key set's signing key (header `kid` when it has one). */
  sign(payload: JWTPayload): Promise<string>;
  /** Replaces the key set (the key file changed): the next token is signed and verified with it. */
  useKeys(set: KeySet): void;
  /** The public signing keys, as `/auth/v1/.well-known/jwks.json` lists them. */
  jwks(): { keys: PublicJwk[] };
  /**
   * The caller behind `token`: its claims, with `fallbackRole` (the apikey's) when the token names
   * no role or there is no token. Only the API roles pass, unless `anyRole`: GoTrue checks a token's
   * signature, expiry and session but not its role (its admin API admits `supabase_admin`, and an
   * admin may give a user any role), so auth asks for that.
   */
  checkBearer(token: string | undefined, options?: BearerOptions): Promise<BearerCheck>;
  /** Calls `listener` when sessions are revoked (never, with the session check off); returns the unsubscribe. */
  onRevoked(listener: (revoked: Revoked) => void): () => void;
}

export interface BearerOptions {
  readonly fallbackRole?: string;
  readonly anyRole?: boolean;
}

const MAX_CACHED_TOKENS = 10_000;

/** `sessions`: also refuse tokens whose session is gone (AUTH_SESSION_CHECK_SECONDS). */
/** `keySet`: the signing keys (default: the secret alone, HS256 as before signing keys). */
export function createTokens(jwtSecret: string, sessions?: SessionCheck, keySet?: KeySet): Tokens {
  const secret = new TextEncoder().encode(jwtSecret);
  let keys = keySet ?? secretKeySet(secret);
  // A client sends the same access token with every request until it expires, and verifying
  // (WebCrypto HMAC) was a tenth of a data API request's CPU. Only tokens that passed are kept;
  // expiry and not-before are checked again on every hit.
  const verified = new Map<string, JwtClaims>();
  const verify = async (token: string): Promise<JwtClaims> => {
    const hit = verified.get(token);
    const now = Date.now() / 1000;
    if (hit && (typeof hit.exp !== 'number' || hit.exp > now) && (typeof hit.nbf !== 'number' || hit.nbf <= now))
      return hit;
    if (hit) verified.delete(token);
    const { payload } = await jwtVerify(token, (header) => keys.verificationKey(header), {
      algorithms: [...VERIFY_ALGORITHMS],
    });
    if (verified.size >= MAX_CACHED_TOKENS) verified.delete(verified.keys().next().value as string);
    verified.set(token, payload);
    return payload;
  };
  return {
    secret,
    verify,
    sign: (payload) => keys.sign(payload),
    jwks: () => keys.jwks(),
    useKeys(set) {
      keys = set;
      // A token of a key no longer in the set must stop verifying now, not when it leaves the cache.
      verified.clear();
    },
    async checkBearer(token, { fallbackRole, anyRole = false } = {}) {
      let claims: JwtClaims = {};
      if (token !== undefined) {
        try {
          claims = await verify(token);
        } catch (err) {
          return { ok: false, problem: tokenProblem(err) };
        }
      } else if (fallbackRole === undefined) {
        return { ok: false, problem: { kind: 'missing' } };
      }
      const role = typeof claims.role === 'string' ? claims.role : fallbackRole;
      if (!anyRole && role === undefined) return { ok: false, problem: { kind: 'no_role' } };
      if (!anyRole && !API_ROLES.has(role ?? ''))
        return { ok: false, problem: { kind: 'not_api_role', role: role ?? '' } };
      if (sessions && typeof claims.session_id === 'string' && !(await sessions.isLive(claims.session_id))) {
        return { ok: false, problem: { kind: 'session_revoked' } };
      }
      return { ok: true, claims: { ...claims, role: role ?? '' } };
    },
    onRevoked: (listener) => sessions?.onRevoked(listener) ?? (() => undefined),
  };
}

/** Why jose refused a token. */
export function tokenProblem(err: unknown): TokenProblem {
  if (err instanceof joseErrors.JWTExpired)
    return { kind: 'expired', expiredAt: typeof err.payload.exp === 'number' ? err.payload.exp : undefined };
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return { kind: 'bad_signature' };
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof KeyAlgorithmError) return { kind: 'bad_algorithm' };
  if (err instanceof UnknownKeyError) return { kind: 'unknown_key', kid: err.kid, alg: err.alg };
  return { kind: 'malformed' };
}

/** A refusal in the words GoTrue uses (PostgREST words its 401s the same way). */
export function describeProblem(problem: TokenProblem): string {
  switch (problem.kind) {
    case 'missing':
      return 'no token';
    case 'expired':
      return 'token is expired';
    case 'bad_signature':
      return 'signature is invalid';
    case 'bad_algorithm':
      return 'signing method is not allowed';
    case 'unknown_key':
      // GoTrue's words; the kid and alg are the caller's, so they are cut short.
      return `unrecognized JWT kid ${problem.kid?.slice(0, 64) ?? '<nil>'} for algorithm ${problem.alg.slice(0, 16)}`;
    case 'malformed':
      return 'token is malformed';
    case 'no_role':
      return 'invalid claim: missing role claim';
    case 'not_api_role':
      return `role "${problem.role.slice(0, 64)}" is not an API role`;
    case 'session_revoked':
      return 'session from session_id claim in JWT does not exist';
  }
}

/** The bearer token of a request, if any. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
