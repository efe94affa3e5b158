/**
 * The `state` Trellis hands a provider: a short-lived HS256 JWT, signed with the project's secret,
 * naming the auth.flow_state row of the sign-in. A forged or altered state fails its signature, an
 * old one its expiry, and a replayed one finds its flow used or gone. The nonce sent to OIDC
 * providers is derived from the flow id, so nothing else needs storing.
 */
import crypto from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';

/** How long a browser may spend at the provider (GoTrue's flow-state lifetime is of the same order). */
export const STATE_EXPIRY_S = 600;
const AUDIENCE = 'trellis:oauth-state';

export async function signState(secret: Uint8Array, flowId: string, provider: string): Promise<string> {
  return new SignJWT({ fid: flowId, provider })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${STATE_EXPIRY_S}s`)
    .sign(secret);
}

export type StateCheck = { ok: true; flowId: string; provider: string } | { ok: false; expired: boolean };

export async function verifyState(secret: Uint8Array, state: string): Promise<StateCheck> {
  if (state.length > 2048) return { ok: false, expired: false };
  try {
    const { payload } = await jwtVerify(state, secret, { algorithms: ['HS256'], audience: AUDIENCE });
    if (typeof payload.fid !== 'string' || typeof payload.provider !== 'string') return { ok: false, expired: false };
    return { ok: true, flowId: payload.fid, provider: payload.provider };
  } catch (err) {
    return { ok: false, expired: (err as { code?: string }).code === 'ERR_JWT_EXPIRED' };
  }
}

/** The OIDC nonce of a flow: HMAC of its id, so only this server can name it. */
export function flowNonce(secret: Uint8Array, flowId: string): string {
  return crypto.createHmac('sha256', secret).update(`oauth-nonce:${flowId}`).digest('base64url');
}
