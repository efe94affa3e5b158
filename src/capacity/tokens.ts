/** Access tokens for synthetic users, signed as Trellis signs them, so no sign-up is needed. */
import { SignJWT } from 'jose';
import { FatalError } from '../errors.js';
import type { Target } from './target.js';

/** A stable user id for virtual user `index` of a run. */
export function syntheticUserId(run: number, index: number): string {
  const hex = (n: number, width: number) => (n >>> 0).toString(16).padStart(width, '0').slice(-width);
  return `${hex(run, 8)}-0000-4000-8000-${hex(index, 12)}`;
}

export async function accessToken(
  jwtSecret: string,
  sub: string,
): Promise<{ token: string; claims: Record<string, unknown> }> {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub, role: 'authenticated', aud: 'authenticated', aal: 'aal1', iat: now, exp: now + 3600 };
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(jwtSecret));
  return { token, claims };
}

/** The secret users' tokens are signed with; a target given only its keys cannot mint them. */
export function signingSecret(target: Pick<Target, 'jwtSecret'>): string {
  if (target.jwtSecret === undefined)
    throw new FatalError(
      "this scenario signs its users' tokens: give the JWT secret (--jwt-secret or JWT_SECRET)",
      '--target',
    );
  return target.jwtSecret;
}
