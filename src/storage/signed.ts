/**
 * Signed URLs, as storage-api makes them: the token is an HS256 JWT signed with the project's JWT
 * secret, naming the one object it opens (`url: "<bucket>/<name>"`) and expiring with `exp`. A
 * changed path, a changed token or a late visit is refused. Each token also names what it is for
 * (`purpose`): a download URL, valid for years, must not open the path for uploads, nor the reverse.
 */
import { SignJWT } from 'jose';
import { tokenProblem } from '../platform/tokens.js';
import { jwtMessage, type StorageContext } from './context.js';
import { StorageErrors } from './errors.js';

export interface DownloadToken {
  readonly url: string;
  readonly transformations?: string;
}

export interface UploadToken {
  readonly url: string;
  readonly owner?: string;
  readonly upsert: boolean;
}

/** storage-api's lifetime of a signed upload URL. */
export const UPLOAD_URL_SECONDS = 2 * 60 * 60;

export type TokenPurpose = 'download' | 'upload';

export async function signToken(
  ctx: StorageContext,
  purpose: TokenPurpose,
  payload: Record<string, unknown>,
  expiresIn: number,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ...payload, purpose })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + expiresIn)
    .sign(ctx.secret);
}

/** The verified payload of `token`, which must have been made for `url` and `purpose`. */
export async function verifyToken(
  ctx: StorageContext,
  token: string | undefined,
  url: string,
  purpose: TokenPurpose,
): Promise<Record<string, unknown>> {
  if (!token) throw StorageErrors.missingParameter('token');
  let payload: Record<string, unknown>;
  try {
    payload = await ctx.services.tokens.verify(token);
  } catch (err) {
    throw StorageErrors.invalidJwt(jwtMessage(tokenProblem(err)));
  }
  if (payload.url !== url) throw StorageErrors.invalidSignature('The url do not match the signature');
  if (payload.purpose !== purpose)
    throw StorageErrors.invalidSignature(`This token is not for ${purpose === 'upload' ? 'uploads' : 'downloads'}`);
  return payload;
}

/** `expiresIn` of a sign request: whole seconds, at least 1. */
export function expiresInOf(value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10 * 365 * 86_400) {
    throw StorageErrors.invalidRequest('expiresIn must be a whole number of seconds, at least 1');
  }
  return n;
}
