/**
 * The WebAuthn ceremonies MFA factors and passkeys share, over @simplewebauthn/server: options to
 * hand the browser, and the checks of what its authenticator answered (challenge, origin, rp id,
 * signature, signature counter). The relying party comes from [auth.webauthn] (src/config.ts).
 */
import type {
  AuthenticationResponseJSON,
  AuthenticatorTransportFuture,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { z } from 'zod';
import type { Config } from '../config.js';
import { nulAt } from '../platform/body.js';

export type RelyingParty = Config['auth']['webauthn'];

// Loaded at the first ceremony: with its certificate parsers it is a tenth of the server's start.
let library: Promise<typeof import('@simplewebauthn/server')> | undefined;
const simpleWebAuthn = () => (library ??= import('@simplewebauthn/server'));

/** Challenges of either kind are answered within five minutes (GoTrue's challenge expiry). */
export const WEBAUTHN_CHALLENGE_TTL_S = 300;

/** What a challenge row keeps between options and verification (GoTrue's "session data"). */
export interface CeremonySession {
  readonly challenge: string;
  readonly user_id?: string;
  readonly user_verification?: string;
}

export interface StoredCredential {
  /** base64url of the credential id. */
  readonly id: string;
  readonly publicKey: Uint8Array;
  readonly counter: number;
  readonly transports?: readonly string[];
}

export interface NewCredential extends StoredCredential {
  readonly aaguid: string;
  readonly attestationType: string;
  readonly backupEligible: boolean;
  readonly backedUp: boolean;
}

const b64url = z
  .string()
  .max(65_536)
  .regex(/^[A-Za-z0-9_-]*={0,2}$/, { error: 'must be base64url' });

// The JSON a browser's PublicKeyCredential.toJSON() gives (what auth-js sends). Checked before the
// library sees it, so garbage is a 400 that names the field rather than a thrown TypeError.
const registrationJson = z.object({
  id: b64url.min(1),
  rawId: b64url.min(1),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: b64url.min(1),
    attestationObject: b64url.min(1),
    transports: z.array(z.string().max(32)).max(16).optional(),
  }),
  clientExtensionResults: z.record(z.string(), z.unknown()).optional().default({}),
  authenticatorAttachment: z.string().max(32).optional(),
});

const assertionJson = z.object({
  id: b64url.min(1),
  rawId: b64url.min(1),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: b64url.min(1),
    authenticatorData: b64url.min(1),
    signature: b64url.min(1),
    userHandle: b64url.optional().nullable(),
  }),
  clientExtensionResults: z.record(z.string(), z.unknown()).optional().default({}),
  authenticatorAttachment: z.string().max(32).optional(),
});

/** The credential JSON of a registration, or undefined when it is not one. */
export function parseRegistration(value: unknown): RegistrationResponseJSON | undefined {
  if (nulAt(value) !== undefined) return undefined;
  const parsed = registrationJson.safeParse(value);
  return parsed.success ? (parsed.data as RegistrationResponseJSON) : undefined;
}

/** The credential JSON of an assertion, or undefined when it is not one. */
export function parseAssertion(value: unknown): AuthenticationResponseJSON | undefined {
  if (nulAt(value) !== undefined) return undefined;
  const parsed = assertionJson.safeParse(value);
  if (!parsed.success) return undefined;
  const { userHandle, ...response } = parsed.data.response;
  return {
    ...parsed.data,
    response: userHandle ? { ...response, userHandle } : response,
  } as AuthenticationResponseJSON;
}

/** A user id (uuid) as the 16 bytes WebAuthn's user handle carries (GoTrue's WebAuthnID). */
export function userHandle(userId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(userId.replace(/-/g, ''), 'hex'));
}

/** The uuid a user handle (base64url) names, or undefined. */
export function userIdFromHandle(handle: string | undefined): string | undefined {
  if (!handle) return undefined;
  const hex = Buffer.from(handle, 'base64url').toString('hex');
  if (hex.length !== 32) return undefined;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface RegistrationRequest {
  readonly userId: string;
  readonly userName: string;
  readonly displayName: string;
  readonly exclude: readonly StoredCredential[];
  /** Passkeys must be discoverable (resident); an MFA factor need not be. */
  readonly residentKey: 'required' | 'discouraged';
}

export async function registrationOptions(
  rp: RelyingParty,
  req: RegistrationRequest,
): Promise<{ options: PublicKeyCredentialCreationOptionsJSON; session: CeremonySession }> {
  const options = await (
    await simpleWebAuthn()
  ).generateRegistrationOptions({
    rpName: rp.rpDisplayName,
    rpID: rp.rpId,
    userID: userHandle(req.userId),
    userName: req.userName,
    userDisplayName: req.displayName,
    attestationType: 'none',
    excludeCredentials: req.exclude.map((c) => ({ id: c.id, transports: transportsOf(c) })),
    authenticatorSelection: {
      residentKey: req.residentKey,
      requireResidentKey: req.residentKey === 'required',
      userVerification: 'preferred',
    },
    // ES256, EdDSA and RS256: what GoTrue's library offers.
    supportedAlgorithmIDs: [-7, -8, -257],
  });
  return { options, session: { challenge: options.challenge, user_id: req.userId, user_verification: 'preferred' } };
}

/** The new credential, or undefined when the response does not answer the challenge for this RP. */
export async function verifyRegistration(
  rp: RelyingParty,
  session: CeremonySession,
  response: RegistrationResponseJSON,
): Promise<NewCredential | undefined> {
  const result = await (
    await simpleWebAuthn()
  )
    .verifyRegistrationResponse({
      response,
      expectedChallenge: session.challenge,
      expectedOrigin: [...rp.rpOrigins],
      expectedRPID: rp.rpId,
      requireUserVerification: false,
    })
    .catch(() => undefined);
  if (!result?.verified) return undefined;
  const info = result.registrationInfo;
  return {
    id: info.credential.id,
    publicKey: info.credential.publicKey,
    counter: info.credential.counter,
    transports: info.credential.transports ?? response.response.transports ?? [],
    aaguid: info.aaguid,
    attestationType: info.fmt,
    backupEligible: info.credentialDeviceType === 'multiDevice',
    backedUp: info.credentialBackedUp,
  };
}

export async function authenticationOptions(
  rp: RelyingParty,
  allow: readonly StoredCredential[] | undefined,
): Promise<{ options: PublicKeyCredentialRequestOptionsJSON; session: CeremonySession }> {
  const options = await (
    await simpleWebAuthn()
  ).generateAuthenticationOptions({
    rpID: rp.rpId,
    // Empty for a passkey sign-in: the authenticator offers whichever discoverable one it holds.
    allowCredentials: allow?.map((c) => ({ id: c.id, transports: transportsOf(c) })),
    userVerification: 'preferred',
  });
  return { options, session: { challenge: options.challenge, user_verification: 'preferred' } };
}

/**
 * The credential's new signature count when the assertion is good; undefined for a wrong challenge,
 * origin, rp id or signature, and for a counter that did not move forward (a cloned authenticator
 * or a replayed assertion).
 */
export async function verifyAssertion(
  rp: RelyingParty,
  session: CeremonySession,
  response: AuthenticationResponseJSON,
  credential: StoredCredential,
): Promise<{ newCounter: number } | undefined> {
  const result = await (
    await simpleWebAuthn()
  )
    .verifyAuthenticationResponse({
      response,
      expectedChallenge: session.challenge,
      expectedOrigin: [...rp.rpOrigins],
      expectedRPID: rp.rpId,
      credential: {
        id: credential.id,
        publicKey: new Uint8Array(credential.publicKey),
        counter: credential.counter,
        transports: transportsOf(credential),
      },
      requireUserVerification: false,
    })
    .catch(() => undefined);
  if (!result?.verified) return undefined;
  return { newCounter: result.authenticationInfo.newCounter };
}

function transportsOf(c: StoredCredential): AuthenticatorTransportFuture[] | undefined {
  return c.transports?.length ? (c.transports as AuthenticatorTransportFuture[]) : undefined;
}
