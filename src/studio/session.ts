/**
 * Who may use /studio/api: a signed-in dashboard (the `trellis_studio` cookie, HttpOnly and
 * SameSite=Strict, signed with the key in .trellis/studio.json) or a script with the service_role
 * key as a bearer token. The anon key and users' tokens are refused with 403: Studio is the
 * service role's, never an app user's.
 */
import crypto from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { ApiError } from '../errors.js';
import { headerOf } from '../platform/http.js';
import { bearerToken, type Tokens } from '../platform/tokens.js';
import { readStudioSecret, type StudioSecret } from '../project/studio-password.js';

export const SESSION_COOKIE = 'trellis_studio';

/** The secret file, re-read at most once a second: `trellis studio passwd` takes effect without a restart. */
export function studioSecrets(dataDir: string): () => Promise<StudioSecret> {
  let cached: { at: number; secret: StudioSecret } | undefined;
  return async () => {
    if (cached && Date.now() - cached.at < 1000) return cached.secret;
    const secret = await readStudioSecret(dataDir);
    if (!secret) throw new ApiError(503, 'studio_not_ready', 'Studio has no password yet; restart Trellis');
    cached = { at: Date.now(), secret };
    return secret;
  };
}

const sign = (key: string, payload: string): string =>
  crypto.createHmac('sha256', Buffer.from(key, 'base64url')).update(payload).digest('base64url');

/** A cookie value: `<expiry in ms>.<HMAC of it>`; nothing is kept on the server. */
export function issueSession(secret: StudioSecret, hours: number, now = Date.now()): { value: string; maxAge: number } {
  const expires = String(now + hours * 3_600_000);
  return { value: `${expires}.${sign(secret.sessionKey, expires)}`, maxAge: hours * 3600 };
}

export function sessionValid(secret: StudioSecret, value: string | undefined, now = Date.now()): boolean {
  if (!value) return false;
  const [expires, mac] = value.split('.');
  if (!expires || !mac || !/^\d{1,16}$/.test(expires) || Number(expires) <= now) return false;
  const expected = Buffer.from(sign(secret.sessionKey, expires));
  const given = Buffer.from(mac);
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

export function cookieOf(c: Context, name: string): string | undefined {
  const header = headerOf(c, 'cookie');
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(value: string, maxAge: number): string {
  return `${SESSION_COOKIE}=${value}; Path=/studio; HttpOnly; SameSite=Strict; Max-Age=${maxAge}`;
}

/** Refuses every caller but a signed-in dashboard or the service role. */
export function requireStudioCaller(tokens: Tokens, secrets: () => Promise<StudioSecret>): MiddlewareHandler {
  return async (c, next) => {
    const token = bearerToken(headerOf(c, 'authorization')) ?? headerOf(c, 'apikey');
    if (token !== undefined) {
      const claims = await tokens.verify(token).catch(() => undefined);
      if (!claims) throw new ApiError(401, 'invalid_token', 'The bearer token is invalid or expired');
      if (claims.role !== 'service_role')
        throw new ApiError(
          403,
          'forbidden',
          `Studio's API needs the service_role key; a "${String(claims.role)}" token is refused`,
          {
            hint: 'sign in at /studio with the dashboard password, or send Authorization: Bearer <service_role key>',
          },
        );
      return next();
    }
    if (sessionValid(await secrets(), cookieOf(c, SESSION_COOKIE))) return next();
    throw new ApiError(401, 'not_signed_in', 'Sign in to Studio first (POST /studio/api/session)', {
      hint: 'or send Authorization: Bearer <service_role key>',
    });
  };
}
