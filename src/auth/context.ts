/** What the auth handlers share: settings, services, and the checks every endpoint makes. */
import { headerOf } from '../platform/http.js';
import type { Context } from 'hono';
import type { Config } from '../config.js';
import type { Db, Tx } from '../db/index.js';
import type { RateLimiter, RateLimitRule } from '../platform/limiter/index.js';
import type { Logger } from '../platform/logger.js';
import type { Mailer } from '../platform/mailer/index.js';
import type { Templates } from '../platform/mailer/templates.js';
import type { SmsProvider } from '../platform/sms/index.js';
import { bearerToken, describeProblem, type JwtClaims, type Tokens } from '../platform/tokens.js';
import { clientInfo, type ClientInfo } from '../platform/client.js';
import { errors } from './errors.js';
import { findSession, refreshSealKey, type SessionRow, type SessionSettings } from './sessions.js';
import { findUserById, type UserRow } from './users.js';
import { createHooks, type Hooks } from './hooks.js';
import { claimsCustomizer } from './hooks-claims.js';

export interface AuthDeps {
  readonly config: Config;
  readonly db: Db;
  readonly tokens: Tokens;
  readonly limiter: RateLimiter;
  readonly mailer: Mailer;
  readonly templates: Templates;
  /** The SMS gateway of AUTH_SMS_PROVIDER; undefined when none is configured. */
  readonly sms: SmsProvider | undefined;
  readonly log: Logger;
}

export interface AuthContext extends AuthDeps {
  readonly settings: SessionSettings;
  readonly hooks: Hooks;
  client(c: Context): ClientInfo;
  /** Throws 429 when `key` has used up `rule`. */
  limit(rule: RateLimitRule, key: string | undefined, error?: () => Error): Promise<void>;
}

export function authContext(deps: AuthDeps): AuthContext {
  const secret = deps.tokens.secret;
  const hooks = createHooks(deps);
  return {
    ...deps,
    hooks,
    settings: {
      sign: (payload) => deps.tokens.sign(payload),
      jwtExpiry: deps.config.auth.jwtExpiry,
      refreshReuseInterval: deps.config.auth.refreshReuseInterval,
      sealKey: refreshSealKey(secret),
      issuer: `${deps.config.publicUrl}/auth/v1`,
      customizeClaims: claimsCustomizer(hooks),
      claimsHookInTransaction: deps.config.auth.hooks.targets.customAccessToken?.kind !== 'http',
    },
    client: (c) => clientInfo(c, deps.config.trustProxy),
    async limit(rule, key, error = errors.rateLimited) {
      const result = await deps.limiter.consume(rule, key ?? 'unknown');
      if (!result.allowed) throw error();
    },
  };
}

export interface Caller {
  readonly claims: JwtClaims;
  readonly user: UserRow;
  readonly session: SessionRow;
}

/** The signed-in user behind the request's bearer token, with a live session. */
export async function requireCaller(ctx: AuthContext, c: Context, tx: Tx, lock = false): Promise<Caller> {
  const claims = await callerClaims(ctx, c);
  if (typeof claims.sub !== 'string' || claims.sub === '') throw errors.badJwt('invalid claim: missing sub claim');
  const session = await findSession(tx, claims.session_id);
  if (!session || session.user_id !== claims.sub) throw errors.sessionNotFound();
  const user = await findUserById(tx, claims.sub, lock);
  if (!user) throw errors.userNotFound();
  return { claims, user, session };
}

export async function callerClaims(ctx: AuthContext, c: Context): Promise<JwtClaims> {
  const check = await ctx.tokens.checkBearer(bearerToken(headerOf(c, 'authorization')), { anyRole: true });
  if (check.ok) return check.claims;
  if (check.problem.kind === 'missing') throw errors.missingJwt();
  if (check.problem.kind === 'session_revoked') throw errors.sessionNotFound();
  throw errors.badJwt(describeProblem(check.problem));
}

/**
 * Only a redirect to the site URL or an allowed URL is honoured; anything else goes to the site URL.
 * The URL is matched and returned in its parsed, serialised form: raw control characters (a CR LF
 * that would split the Location header) and tricks like `https://site@evil` cannot slip through.
 */
export function safeRedirect(ctx: AuthContext, requested: string | undefined): string {
  const site = ctx.config.auth.siteUrl;
  if (!requested || /[\u0000-\u001f\u007f]/.test(requested)) return site;
  let url: URL;
  try {
    url = new URL(requested);
  } catch {
    return site;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '')
    return site;
  const href = url.href;
  const allowed = [site, ctx.config.publicUrl, ...ctx.config.auth.redirectUrls];
  const ok = allowed.some((pattern) => {
    if (pattern.endsWith('*')) return href.startsWith(pattern.slice(0, -1));
    const base = pattern.replace(/\/$/, '');
    return (
      href === pattern ||
      href === `${base}/` ||
      href.startsWith(`${base}/`) ||
      href.startsWith(`${base}?`) ||
      href.startsWith(`${base}#`)
    );
  });
  return ok ? href : site;
}
