/**
 * The project's JWT key set: the HS256 secret (the legacy key, which always verifies tokens that
 * name no key) and the signing keys of GoTrue's `GOTRUE_JWT_KEYS` / the Supabase CLI's
 * `signing_keys_path` file: a JSON array of private JWKs, ES256 and RS256 (and HS256 `oct` keys,
 * which GoTrue's format allows). One key signs; every key in the set verifies the tokens whose
 * header names its `kid`; a key taken out of the set (revoked) verifies nothing any more.
 */
import nodeCrypto from 'node:crypto';
import { importJWK, SignJWT, type CryptoKey, type JWK, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { z } from 'zod';

export type SigningAlgorithm = 'ES256' | 'RS256' | 'HS256';

/** What tokens may be signed with; anything else (`none`, HS512, EdDSA, …) is refused before a key is looked at. */
export const VERIFY_ALGORITHMS: readonly SigningAlgorithm[] = ['HS256', 'ES256', 'RS256'];

/** A public JWK as `/.well-known/jwks.json` lists it (GoTrue's shape: `use: sig`, `key_ops: [verify]`). */
export interface PublicJwk {
  readonly kty: 'EC' | 'RSA';
  readonly kid: string;
  readonly alg: 'ES256' | 'RS256';
  readonly use: 'sig';
  readonly key_ops: readonly ['verify'];
  readonly crv?: string;
  readonly x?: string;
  readonly y?: string;
  readonly n?: string;
  readonly e?: string;
}

/** One key of the set, checked but not yet imported. */
export interface KeyEntry {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** Has a private part and `key_ops` allows signing. */
  readonly canSign: boolean;
  /** The JWK as given (private parts included): what signs. */
  readonly jwk: JWK;
  /** The public half (asymmetric keys only): what verifies and what the JWKS lists. */
  readonly publicJwk: PublicJwk | undefined;
}

const b64url = z
  .string()
  .regex(/^[A-Za-z0-9_-]+$/, { error: 'must be base64url' })
  .max(2048);
const jwkShape = z.looseObject({
  kty: z.string(),
  kid: z.string().min(1, { error: 'must not be empty' }).max(200),
  alg: z.string().optional(),
  key_ops: z.array(z.string()).optional(),
  crv: z.string().optional(),
  x: b64url.optional(),
  y: b64url.optional(),
  d: b64url.optional(),
  n: b64url.optional(),
  e: b64url.optional(),
  k: b64url.optional(),
});

const RSA_MIN_BITS = 2048;

/**
 * Checks a JSON array of JWKs (the text of a signing-keys file or of AUTH_JWT_KEYS). Returns the
 * keys in order, or a message naming the key and what is wrong with it.
 */
export function parseKeyList(json: unknown): { ok: true; keys: KeyEntry[] } | { ok: false; message: string } {
  if (!Array.isArray(json)) return { ok: false, message: 'must be a JSON array of JWKs' };
  const keys: KeyEntry[] = [];
  const seen = new Set<string>();
  for (const [index, raw] of json.entries()) {
    const parsed = jwkShape.safeParse(raw);
    const where = `key ${index + 1}`;
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return { ok: false, message: `${where}: ${issue?.path.join('.') || 'value'} ${issue?.message ?? 'is invalid'}` };
    }
    const entry = checkKey(parsed.data);
    if (typeof entry === 'string') return { ok: false, message: `${where} (kid ${parsed.data.kid}): ${entry}` };
    if (seen.has(entry.kid)) return { ok: false, message: `${where}: kid ${entry.kid} appears twice` };
    seen.add(entry.kid);
    keys.push(entry);
  }
  return { ok: true, keys };
}

type JwkFields = z.infer<typeof jwkShape>;

function checkKey(k: JwkFields): KeyEntry | string {
  const allowsSign = k.key_ops === undefined || k.key_ops.includes('sign');
  const base = { kid: k.kid, jwk: k as JWK };
  switch (k.kty) {
    case 'EC': {
      if (k.crv !== 'P-256') return `curve ${String(k.crv)} is not supported (ES256 needs P-256)`;
      if (k.alg !== undefined && k.alg !== 'ES256') return `alg ${k.alg} does not fit an EC P-256 key (ES256)`;
      if (!k.x || !k.y) return 'an EC key needs x and y';
      const publicJwk: PublicJwk = { ...publicFields(k.kid, 'EC', 'ES256'), crv: 'P-256', x: k.x, y: k.y };
      return { ...base, alg: 'ES256', canSign: allowsSign && k.d !== undefined, publicJwk };
    }
    case 'RSA': {
      if (k.alg !== undefined && k.alg !== 'RS256') return `alg ${k.alg} is not supported for RSA keys (RS256)`;
      if (!k.n || !k.e) return 'an RSA key needs n and e';
      const bits = Buffer.from(k.n, 'base64url').length * 8;
      if (bits < RSA_MIN_BITS) return `an RSA key needs at least ${RSA_MIN_BITS} bits (this one has ${bits})`;
      const publicJwk: PublicJwk = { ...publicFields(k.kid, 'RSA', 'RS256'), n: k.n, e: k.e };
      return { ...base, alg: 'RS256', canSign: allowsSign && k.d !== undefined, publicJwk };
    }
    case 'oct': {
      if (k.alg !== undefined && k.alg !== 'HS256') return `alg ${k.alg} is not supported for oct keys (HS256)`;
      if (!k.k || Buffer.from(k.k, 'base64url').length < 32) return 'an oct key needs k of at least 32 bytes';
      return { ...base, alg: 'HS256', canSign: allowsSign, publicJwk: undefined };
    }
    default:
      return `kty ${k.kty} is not supported (EC P-256 for ES256, RSA for RS256, oct for HS256)`;
  }
}

function publicFields<T extends 'EC' | 'RSA', A extends 'ES256' | 'RS256'>(kid: string, kty: T, alg: A) {
  return { kty, kid, alg, use: 'sig', key_ops: ['verify'] } as const;
}

/** The key that signs: the first that can (GoTrue signs with its one `sign` key; the CLI's file lists it first). */
export function signingEntry(keys: readonly KeyEntry[]): KeyEntry | undefined {
  return keys.find((k) => k.canSign);
}

/** A token's header names a key the set does not hold (never did, or revoked). */
export class UnknownKeyError extends Error {
  constructor(
    readonly kid: string | undefined,
    readonly alg: string,
  ) {
    super(`unrecognized JWT kid ${kid ?? '(none)'} for algorithm ${alg}`);
  }
}

/** A token's `alg` is not the algorithm of the key its `kid` names (alg confusion). */
export class KeyAlgorithmError extends Error {
  constructor(readonly alg: string) {
    super(`signing method ${alg} is not the key's`);
  }
}

export interface KeySet {
  /** Algorithm and kid that new access tokens carry. */
  readonly signer: { readonly alg: SigningAlgorithm; readonly kid: string | undefined };
  /** The key that verifies a token with this header; throws UnknownKeyError or KeyAlgorithmError. */
  verificationKey(header: JWTHeaderParameters): CryptoKey | Uint8Array;
  /** Signs `payload` with the signing key (header alg, typ JWT, kid). */
  sign(payload: JWTPayload): Promise<string>;
  /** The public keys, as `/.well-known/jwks.json` serves them: no private part, no HS256 key. */
  jwks(): { keys: PublicJwk[] };
}

/** Builds the set from the HS256 secret and checked keys (imports them once, so each token costs a lookup). */
export async function createKeySet(secret: Uint8Array, keys: readonly KeyEntry[]): Promise<KeySet> {
  const verifiers = new Map<string, Verifier>();
  for (const k of keys) {
    const key =
      k.publicJwk === undefined
        ? Buffer.from(String(k.jwk.k), 'base64url')
        : await importJWK({ ...k.publicJwk, key_ops: undefined }, k.alg);
    verifiers.set(k.kid, { alg: k.alg, key });
  }
  const signEntry = signingEntry(keys);
  const signKey: CryptoKey | Uint8Array =
    signEntry === undefined
      ? secret
      : signEntry.alg === 'HS256'
        ? Buffer.from(String(signEntry.jwk.k), 'base64url')
        : await importJWK(privateForSigning(signEntry.jwk), signEntry.alg);
  return keySetOf(secret, keys, verifiers, signKey, { alg: signEntry?.alg ?? 'HS256', kid: signEntry?.kid });
}

/** The set with no signing keys: the secret signs and verifies, as before signing keys existed. */
export function secretKeySet(secret: Uint8Array): KeySet {
  return keySetOf(secret, [], new Map(), secret, { alg: 'HS256', kid: undefined });
}

interface Verifier {
  readonly alg: SigningAlgorithm;
  readonly key: CryptoKey | Uint8Array;
}

function keySetOf(
  secret: Uint8Array,
  keys: readonly KeyEntry[],
  verifiers: ReadonlyMap<string, Verifier>,
  signKey: CryptoKey | Uint8Array,
  signer: KeySet['signer'],
): KeySet {
  const published = keys.flatMap((k) => (k.publicJwk ? [k.publicJwk] : []));
  // An HS256 signature is an HMAC over two base64url segments. jose computes it with WebCrypto, an
  // asynchronous job on the thread pool that cost a refresh grant more CPU than the rest of its
  // token; node:crypto's HMAC does it in microseconds, in line. (Verification stays jose's.)
  const signWith =
    signKey instanceof Uint8Array
      ? hs256(nodeCrypto.createSecretKey(signKey))
      : (header: JWTHeaderParameters, payload: JWTPayload) =>
          new SignJWT(payload).setProtectedHeader(header).sign(signKey);
  return {
    signer,
    verificationKey(header) {
      const alg = header.alg ?? '';
      if (header.kid !== undefined && typeof header.kid !== 'string')
        throw new UnknownKeyError(String(header.kid), alg);
      if (header.kid === undefined) {
        // Tokens that name no key are the legacy ones (the API keys, tokens minted with the secret).
        if (alg === 'HS256') return secret;
        throw new UnknownKeyError(undefined, alg);
      }
      const found = verifiers.get(header.kid);
      if (!found) throw new UnknownKeyError(header.kid, alg);
      if (found.alg !== alg) throw new KeyAlgorithmError(alg);
      return found.key;
    },
    async sign(payload) {
      const header: JWTHeaderParameters = { alg: signer.alg, typ: 'JWT' };
      if (signer.kid !== undefined) header.kid = signer.kid;
      return signWith(header, payload);
    },
    jwks: () => ({ keys: published.map((k) => ({ ...k })) }),
  };
}

/** Signs the JWS compact serialisation of a payload under HS256 (RFC 7515 §7.1, RFC 7518 §3.2). */
function hs256(key: nodeCrypto.KeyObject) {
  return async (header: JWTHeaderParameters, payload: JWTPayload): Promise<string> => {
    const input = `${base64url(header)}.${base64url(payload)}`;
    return `${input}.${nodeCrypto.createHmac('sha256', key).update(input).digest('base64url')}`;
  };
}

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** WebCrypto refuses to import a private key whose key_ops say `verify`; the JWK's usage is ours to decide. */
function privateForSigning(jwk: JWK): JWK {
  const { key_ops: _ops, use: _use, ext: _ext, ...rest } = jwk;
  return rest;
}
