/**
 * A software WebAuthn authenticator for tests: an EC P-256 key per credential, attestation "none"
 * and assertions built by hand (node:crypto and the little CBOR encoder below), so tests drive the
 * server exactly as a browser's navigator.credentials would, and can also break what it sends.
 */
import crypto from 'node:crypto';

type Cbor = number | string | Uint8Array | Cbor[] | Map<Cbor, Cbor> | { [key: string]: Cbor };

function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 256) return Buffer.from([(major << 5) | 24, n]);
  if (n < 65536) return Buffer.from([(major << 5) | 25, n >> 8, n & 255]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

/** Encodes the CBOR WebAuthn needs: integers, byte and text strings, arrays and maps. */
export function cbor(value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(cbor)]);
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, v]) => [cbor(k), cbor(v)])]);
}

const b64url = (b: Uint8Array | string) => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string) => crypto.createHash('sha256').update(b).digest();

interface CreationOptions {
  challenge: string;
  rp: { id?: string; name?: string };
  user: { id: string; name?: string };
}
interface RequestOptions {
  challenge: string;
  rpId?: string;
  allowCredentials?: { id: string }[];
}

export interface Tamper {
  origin?: string;
  rpId?: string;
  challenge?: string;
  /** The signature counter to report (defaults to one more than the last). */
  counter?: number;
  type?: string;
}

export class SoftwareAuthenticator {
  private readonly key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  readonly credentialId = crypto.randomBytes(16);
  private userHandle: string | undefined;
  counter = 0;

  constructor(private readonly opts: { rpId: string; origin: string }) {}

  private clientData(type: string, challenge: string, t: Tamper): Buffer {
    return Buffer.from(
      JSON.stringify({
        type: t.type ?? type,
        challenge: t.challenge ?? challenge,
        origin: t.origin ?? this.opts.origin,
        crossOrigin: false,
      }),
    );
  }

  private coseKey(): Map<Cbor, Cbor> {
    const jwk = this.key.publicKey.export({ format: 'jwk' });
    return new Map<Cbor, Cbor>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(jwk.x as string, 'base64url')],
      [-3, Buffer.from(jwk.y as string, 'base64url')],
    ]);
  }

  /** navigator.credentials.create(), as the JSON a browser's credential.toJSON() gives. */
  create(options: CreationOptions, t: Tamper = {}) {
    this.userHandle = options.user.id;
    const rpId = t.rpId ?? options.rp.id ?? this.opts.rpId;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(t.counter ?? this.counter);
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(this.credentialId.length);
    const authData = Buffer.concat([
      sha256(rpId),
      Buffer.from([0x45]), // user present, user verified, attested credential data
      counter,
      Buffer.alloc(16), // aaguid: none
      idLength,
      this.credentialId,
      cbor(this.coseKey()),
    ]);
    const attestationObject = cbor({ fmt: 'none', attStmt: {}, authData });
    return {
      id: b64url(this.credentialId),
      rawId: b64url(this.credentialId),
      type: 'public-key',
      response: {
        clientDataJSON: b64url(this.clientData('webauthn.create', options.challenge, t)),
        attestationObject: b64url(attestationObject),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /** navigator.credentials.get(): an assertion signed with this credential's key. */
  get(options: RequestOptions, t: Tamper = {}) {
    this.counter = t.counter ?? this.counter + 1;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(this.counter);
    const authData = Buffer.concat([sha256(t.rpId ?? options.rpId ?? this.opts.rpId), Buffer.from([0x05]), counter]);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, t);
    const signature = crypto.sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), this.key.privateKey);
    return {
      id: b64url(this.credentialId),
      rawId: b64url(this.credentialId),
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        ...(this.userHandle ? { userHandle: this.userHandle } : {}),
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }
}

/** A credential JSON auth-js serialises as it is (it calls toJSON when there is one). */
export const asCredential = <T>(json: T) => ({ toJSON: () => json }) as unknown as PublicKeyCredential;
