/** Access tokens for synthetic users, signed as Trellis signs them, so no sign-up is needed. */
import { SignJWT } from 'jose';

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
