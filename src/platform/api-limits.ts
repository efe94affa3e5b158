/**
 * The data API's rate limits: each route family (rest, storage, functions, realtime messages) has
 * its own budget per user (the verified JWT's `sub`) or, for callers without one, per client
 * address; service_role callers (servers holding the secret key) are never limited. Counted on the
 * shared RateLimiter, so in Redis across instances when REDIS_URL is set.
 */
import type { MiddlewareHandler } from 'hono';
import type { Config } from '../config.js';
import { describeRate } from '../config/rate-limit.js';
import { ApiError } from '../errors.js';
import { clientInfo } from './client.js';
import { headerOf } from './http.js';
import type { KeyEnv } from './keys.js';
import type { RateLimiter, RateLimitResult, RateLimitRule } from './limiter/index.js';
import type { Metrics } from './metrics.js';
import { bearerToken, type Tokens } from './tokens.js';

export type LimitedFamily = 'rest' | 'storage' | 'functions' | 'realtime';

export interface ApiLimitDeps {
  readonly config: Config;
  readonly limiter: RateLimiter;
  readonly tokens: Tokens;
  readonly metrics: Metrics;
}

/** A family's rule, or undefined when its limit is off. */
export function familyRule(config: Config, family: LimitedFamily): RateLimitRule | undefined {
  const spec = config.apiRateLimits[family];
  return spec && { name: `api_${family}`, points: spec.points, durationS: spec.windowS };
}

/**
 * Whose budget a caller spends: its user (`sub`), else its address; undefined for service_role.
 * A `sub` comes only from a token Trellis verified, so a client cannot pick someone else's budget.
 */
export function limitKey(
  claims: { readonly role?: unknown; readonly sub?: unknown } | undefined,
  ip: string | undefined,
): string | undefined {
  if (claims?.role === 'service_role') return undefined;
  if (typeof claims?.sub === 'string' && claims.sub !== '') return `user:${claims.sub.slice(0, 256)}`;
  return `ip:${ip ?? 'unknown'}`;
}

/**
 * The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers, the form with separate
 * fields that proxies and clients read today), on every answer, refused or not.
 */
export function rateLimitHeaders(rule: RateLimitRule, result: RateLimitResult): Record<string, string> {
  return {
    'ratelimit-limit': String(rule.points),
    'ratelimit-remaining': String(Math.max(0, result.remaining)),
    'ratelimit-reset': String(result.resetS),
    'ratelimit-policy': `${rule.points};w=${rule.durationS}`,
  };
}

/** The 429 of a family, in its service's error shape (the one renderer picks the body by path). */
export function rateLimitedError(family: LimitedFamily, rule: RateLimitRule, result: RateLimitResult): ApiError {
  const limit = describeRate({ points: rule.points, windowS: rule.durationS });
  const headers = { ...rateLimitHeaders(rule, result), 'retry-after': String(result.retryAfterS) };
  const message = `Too many requests: the limit is ${limit}`;
  const hint = `Retry after ${result.retryAfterS} s.`;
  // storage-api names request-rate refusals SlowDown (S3's code); the others take GoTrue's code
  // for the same condition, which supabase-js already surfaces for auth.
  if (family === 'storage')
    return new ApiError(429, 'SlowDown', `${message}. ${hint}`, { fields: { statusCode: '429' }, headers });
  return new ApiError(429, 'over_request_rate_limit', message, { hint, headers });
}

/**
 * The middleware that spends a point of `family`'s budget before the handler runs; undefined when
 * the family's limit is off, so that an unlimited API pays nothing. Mount it after the apikey check.
 */
export function apiRateLimit(deps: ApiLimitDeps, family: LimitedFamily): MiddlewareHandler<KeyEnv> | undefined {
  const rule = familyRule(deps.config, family);
  if (rule === undefined) return undefined;
  const { limiter, tokens, metrics, config } = deps;
  return async (c, next) => {
    // The same check the handler makes next, answered from the verified-token cache. A bad token
    // spends its address's points here and is refused by the handler with its family's 401.
    const check = await tokens.checkBearer(bearerToken(headerOf(c, 'authorization')), {
      fallbackRole: c.get('apikeyRole'),
    });
    const key = limitKey(check.ok ? check.claims : undefined, clientInfo(c, config.trustProxy).ip);
    if (key === undefined) return next();
    const result = await limiter.consume(rule, key);
    if (!result.allowed) {
      metrics.countRateLimited(family);
      throw rateLimitedError(family, rule, result);
    }
    // Set before the handler builds its response (see requestContext).
    const headers = rateLimitHeaders(rule, result);
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    c.set('rateLimitHeaders', headers);
    return next();
  };
}
