import crypto from 'node:crypto';
import { SignJWT, exportJWK } from 'jose';
import { describe, expect, test } from 'vitest';
import { createKeySet, parseKeyList, secretKeySet, signingEntry, type KeyEntry } from '../../src/platform/keyset.js';
import { createTokens, tokenProblem } from '../../src/platform/tokens.js';
import { generateKey } from '../../src/project/key-file.js';

const SECRET = 'keyset-test-secret-with-at-least-32-chars';
const secretBytes = new TextEncoder().encode(SECRET);

function entries(json: unknown): KeyEntry[] {
  const parsed = parseKeyList(json);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.keys;
}

const b64 = (s: string) => Buffer.from(s).toString('base64url');
/** A token with any header and signature bytes, as an attacker writes it. */
const forged = (header: object, payload: object, signature = '') =>
  `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}.${signature}`;
const claims = () => ({ role: 'authenticated', sub: 'u1', exp: Math.floor(Date.now() / 1000) + 600 });

describe('parseKeyList', () => {
  const es = generateKey('ES256');
  test.each([
    ['not an array', { kty: 'EC' }, /must be a JSON array of JWKs/],
    ['no kid', [{ ...es, kid: undefined }], /key 1: kid/],
    ['empty kid', [{ ...es, kid: '' }], /key 1: kid must not be empty/],
    ['an unsupported kty', [{ kty: 'OKP', kid: 'k', crv: 'Ed25519', x: 'AA' }], /kty OKP is not supported/],
    ['another curve', [{ ...es, crv: 'P-384' }], /curve P-384 is not supported/],
    ['an alg that does not fit', [{ ...es, alg: 'RS256' }], /alg RS256 does not fit an EC P-256 key/],
    ['a short oct key', [{ kty: 'oct', kid: 'h', k: b64('short') }], /k of at least 32 bytes/],
    ['a short RSA key', [{ kty: 'RSA', kid: 'r', n: b64('x'.repeat(128)), e: 'AQAB' }], /at least 2048 bits/],
    ['a duplicate kid', [es, es], /key 2: kid .* appears twice/],
    ['a non-base64url x', [{ ...es, x: 'a b' }], /x must be base64url/],
  ])('refuses %s', (_name, json, message) => {
    const parsed = parseKeyList(json);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(message);
  });

  test('the first key that may sign signs; verify-only and public-only keys do not', () => {
    const verifyOnly = { ...generateKey('RS256'), key_ops: ['verify'] };
    const publicOnly = { ...generateKey('ES256'), d: undefined };
    const signer = generateKey('ES256');
    const keys = entries([verifyOnly, publicOnly, signer, generateKey('RS256')]);
    expect(signingEntry(keys)?.kid).toBe(signer.kid);
    expect(keys.map((k) => k.canSign)).toEqual([false, false, true, true]);
  });
});

describe('the key set', () => {
  test("the JWKS lists every asymmetric key's public half and nothing private, no HS256 key", async () => {
    const es = generateKey('ES256');
    const rs = { ...generateKey('RS256'), key_ops: ['verify'] };
    const oct = { kty: 'oct', kid: 'hmac', k: b64('o'.repeat(40)), alg: 'HS256' };
    const set = await createKeySet(secretBytes, entries([es, rs, oct]));
    const { keys } = set.jwks();
    expect(keys.map((k) => [k.kid, k.alg, k.kty, k.use, k.key_ops])).toEqual([
      [es.kid, 'ES256', 'EC', 'sig', ['verify']],
      [rs.kid, 'RS256', 'RSA', 'sig', ['verify']],
    ]);
    for (const key of keys)
      for (const part of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'ext']) expect(key).not.toHaveProperty(part);
    expect(JSON.stringify(set.jwks())).not.toContain(String(es.d));
  });

  test.each(['ES256', 'RS256'] as const)('a %s signing key signs with its kid, and the token verifies', async (alg) => {
    const key = generateKey(alg);
    const tokens = createTokens(SECRET, undefined, await createKeySet(secretBytes, entries([key])));
    const token = await tokens.sign(claims());
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(header).toEqual({ alg, typ: 'JWT', kid: key.kid });
    await expect(tokens.verify(token)).resolves.toMatchObject({ sub: 'u1' });
  });

  test('without keys the secret signs HS256 with no kid, as before', async () => {
    const tokens = createTokens(SECRET, undefined, secretKeySet(secretBytes));
    const payload = { ...claims(), email: 'ünïcode@example.com', amr: [{ method: 'password', timestamp: 1 }] };
    const token = await tokens.sign(payload);
    // node:crypto's HMAC signs; byte for byte the token jose makes of the same header and payload.
    expect(token).toBe(await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secretBytes));
    expect(JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString())).toEqual({
      alg: 'HS256',
      typ: 'JWT',
    });
    expect(tokens.jwks()).toEqual({ keys: [] });
  });

  test('an oct key from AUTH_JWT_KEYS signs HS256 with its kid', async () => {
    const oct = { kty: 'oct', kid: 'hmac-1', k: b64('k'.repeat(40)), key_ops: ['sign', 'verify'] };
    const tokens = createTokens(SECRET, undefined, await createKeySet(secretBytes, entries([oct])));
    const token = await tokens.sign(claims());
    await expect(tokens.verify(token)).resolves.toMatchObject({ sub: 'u1' });
    // Not with the project secret: the key is the oct key's.
    const withSecret = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'HS256', kid: 'hmac-1' })
      .sign(secretBytes);
    await expect(tokens.verify(withSecret)).rejects.toThrow();
  });
});

describe('verification refuses forged tokens', async () => {
  const es = generateKey('ES256');
  const rs = generateKey('RS256');
  const set = await createKeySet(secretBytes, entries([es, { ...rs, key_ops: ['verify'] }]));
  const tokens = createTokens(SECRET, undefined, set);
  const rsPublicPem = crypto.createPublicKey({ key: rs as crypto.JsonWebKey, format: 'jwk' }).export({
    type: 'spki',
    format: 'pem',
  });

  test.each<[string, () => Promise<string>, string]>([
    ['alg none', async () => forged({ alg: 'none', typ: 'JWT' }, claims()), 'bad_algorithm'],
    ['alg none with a kid', async () => forged({ alg: 'none', kid: es.kid }, claims()), 'bad_algorithm'],
    [
      'HS512',
      async () => new SignJWT(claims()).setProtectedHeader({ alg: 'HS512' }).sign(secretBytes),
      'bad_algorithm',
    ],
    [
      'HS256 signed with the RSA public key, naming its kid (alg confusion)',
      async () =>
        new SignJWT(claims())
          .setProtectedHeader({ alg: 'HS256', kid: String(rs.kid) })
          .sign(new TextEncoder().encode(String(rsPublicPem))),
      'bad_algorithm',
    ],
    [
      'HS256 signed with the RSA public key, naming no kid',
      async () =>
        new SignJWT(claims()).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(String(rsPublicPem))),
      'bad_signature',
    ],
    [
      'an unknown kid',
      async () => {
        const other = generateKey('ES256');
        const key = crypto.createPrivateKey({ key: other as crypto.JsonWebKey, format: 'jwk' });
        return new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', kid: String(other.kid) }).sign(key);
      },
      'unknown_key',
    ],
    [
      'HS256 with the secret but an unknown kid',
      async () => new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: 'nope' }).sign(secretBytes),
      'unknown_key',
    ],
    [
      'ES256 without a kid',
      async () => {
        const key = crypto.createPrivateKey({ key: es as crypto.JsonWebKey, format: 'jwk' });
        return new SignJWT(claims()).setProtectedHeader({ alg: 'ES256' }).sign(key);
      },
      'unknown_key',
    ],
    ['a kid that is a number', async () => forged({ alg: 'ES256', kid: 7 }, claims(), 'AAAA'), 'unknown_key'],
    [
      "RS256 naming the ES256 key's kid",
      async () => {
        const key = crypto.createPrivateKey({ key: rs as crypto.JsonWebKey, format: 'jwk' });
        return new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: String(es.kid) }).sign(key);
      },
      'bad_algorithm',
    ],
    [
      'a signature of another key under a known kid',
      async () => {
        const other = await exportJWK(
          (await crypto.webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']))
            .privateKey,
        );
        const key = crypto.createPrivateKey({ key: other as crypto.JsonWebKey, format: 'jwk' });
        return new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', kid: String(es.kid) }).sign(key);
      },
      'bad_signature',
    ],
    [
      'an expired token of the signing key',
      async () => set.sign({ ...claims(), exp: Math.floor(Date.now() / 1000) - 10 }),
      'expired',
    ],
  ])('%s', async (_name, make, kind) => {
    const token = await make();
    const error = await tokens.verify(token).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeDefined();
    expect(tokenProblem(error).kind).toBe(kind);
    expect((await tokens.checkBearer(token)).ok).toBe(false);
  });

  test('a verify-only key still verifies what it signed', async () => {
    const key = crypto.createPrivateKey({ key: rs as crypto.JsonWebKey, format: 'jwk' });
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: String(rs.kid) }).sign(key);
    await expect(tokens.verify(token)).resolves.toMatchObject({ sub: 'u1' });
  });

  test('the legacy HS256 secret still verifies tokens without a kid', async () => {
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256' }).sign(secretBytes);
    await expect(tokens.verify(token)).resolves.toMatchObject({ sub: 'u1' });
  });

  test('a removed (revoked) key verifies nothing: a set without it refuses its tokens', async () => {
    const token = await set.sign(claims());
    const without = createTokens(SECRET, undefined, await createKeySet(secretBytes, entries([rs])));
    expect(await without.checkBearer(token)).toEqual({
      ok: false,
      problem: { kind: 'unknown_key', kid: es.kid, alg: 'ES256' },
    });
  });
});
