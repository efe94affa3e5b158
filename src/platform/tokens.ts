/**
 * The one check of a bearer token, for every module: the project's HS256 secret, one cache of
 * verified tokens, and an answer that is a value (claims, or why not). Each module words a refusal
 * in its own API's dialect (GoTrue's, PostgREST's, storage-api's, Realtime's).
 */
import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { API_ROLES, type Claims } from '../db/index.js';
import type { Revoked, SessionCheck } from './sessions.js';

export type JwtClaims = JWTPayload & { role?: string; [claim: string]: unknown };

/** Why a token was refused. */
export type TokenProblem =
  | { readonly kind: 'missing' }
  | { readonly kind: 'expired'; readonly expiredAt: number | undefined }
  | { readonly kind: 'bad_signature' }
  | { readonly kind: 'bad_algorithm' }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'no_role' }
  | { readonly kind: 'not_api_role'; readonly role: string }
  /** The token's session was deleted (only with the session check on). */
  | { readonly kind: 'session_revoked' };

export type BearerCheck =
  { readonly ok: true; readonly claims: Claims & JwtClaims } | { readonly ok: false; readonly problem: TokenProblem };

export interface Tokens {
  /** The project's JWT secret as bytes, for the modules that sign (auth sessions, storage URLs). */
  readonly secret: Uint8Array;
  /** Verifies an HS256 JWT; `alg: none`, other algorithms, a bad signature or an expired token throw. */
  verify(token: string): Promise<JwtClaims>;
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
export function createTokens(jwtSecret: string, sessions?: SessionCheck): Tokens {
  const secret = new TextEncoder().encode(jwtSecret);
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
    const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'] });
    if (verified.size >= MAX_CACHED_TOKENS) verified.delete(verified.keys().next().value as string);
    verified.set(token, payload);
    return payload;
  };
  return {
    secret,
    verify,
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
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return { kind: 'bad_algorithm' };
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
