/**
 * The API gateway's job on Supabase: every request under /auth, /rest, /realtime and /storage
 * carries an `apikey` (header or query parameter) that is a JWT signed with the project's secret for
 * the anon or service_role role. The bearer token, when present, decides who the caller is.
 */
import type { MiddlewareHandler } from 'hono';
import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { ApiError } from '../errors.js';
import { GATEWAY_ERROR, headerOf, type HttpEnv } from './http.js';

export type JwtClaims = JWTPayload & { role?: string; [claim: string]: unknown };

export interface KeyEnv {
  Variables: HttpEnv['Variables'] & { apikeyRole: 'anon' | 'service_role' };
}

export function requireApiKey(jwtSecret: string): MiddlewareHandler<KeyEnv> {
  const secret = new TextEncoder().encode(jwtSecret);
  return async (c, next) => {
    const apikey = headerOf(c, 'apikey') ?? c.req.query('apikey');
    if (!apikey) {
      throw new ApiError(401, GATEWAY_ERROR, 'No API key found in request', { hint: 'No `apikey` request header or url param was found.' });
    }
    const claims = await verifyJwt(secret, apikey).catch(() => undefined);
    if (!claims || (claims.role !== 'anon' && claims.role !== 'service_role')) {
      throw new ApiError(401, GATEWAY_ERROR, 'Invalid API key', { hint: 'Double check your Supabase `anon` or `service_role` API key.' });
    }
    c.set('apikeyRole', claims.role);
    await next();
  };
}

// Verified tokens, per secret: a client sends the same access token with every request until it
// expires, and verifying (WebCrypto HMAC) was a tenth of a data API request's CPU. Only tokens that
// passed verification are kept; expiry is checked again on every hit.
const verifiedTokens = new WeakMap<Uint8Array, Map<string, JwtClaims>>();
const MAX_CACHED_TOKENS = 10_000;

/** Verifies an HS256 JWT; `alg: none`, other algorithms, a bad signature or an expired token throw. */
export async function verifyJwt(secret: Uint8Array, token: string): Promise<JwtClaims> {
  let cache = verifiedTokens.get(secret);
  if (!cache) verifiedTokens.set(secret, (cache = new Map()));
  const hit = cache.get(token);
  const now = Date.now() / 1000;
  if (hit && (typeof hit.exp !== 'number' || hit.exp > now) && (typeof hit.nbf !== 'number' || hit.nbf <= now)) return hit;
  if (hit) cache.delete(token);
  const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'] });
  if (cache.size >= MAX_CACHED_TOKENS) cache.delete(cache.keys().next().value as string);
  cache.set(token, payload as JwtClaims);
  return payload as JwtClaims;
}

/** Why a token was refused, in the words GoTrue uses. */
export function describeJwtError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'token is expired';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature is invalid';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'signing method is not allowed';
  return 'token is malformed';
}

/** The bearer token of a request, if any. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
