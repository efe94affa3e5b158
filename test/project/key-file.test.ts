import type { JWK } from 'jose';
import { describe, expect, test } from 'vitest';
import { parseKeyList, signingEntry } from '../../src/platform/keyset.js';
import { addKey, generateKey, revokeKey, rotateTo, type KeyChange } from '../../src/project/key-file.js';

function keysOf(change: KeyChange): JWK[] {
  if (!change.ok) throw new Error(change.message);
  return change.keys;
}

function signer(keys: JWK[]): string | undefined {
  const parsed = parseKeyList(keys);
  if (!parsed.ok) throw new Error(parsed.message);
  return signingEntry(parsed.keys)?.kid;
}

describe('generateKey', () => {
  test.each(['ES256', 'RS256'] as const)('%s: a private JWK in the Supabase CLI format', (alg) => {
    const key = generateKey(alg);
    expect(key).toMatchObject({ alg, use: 'sig', key_ops: ['sign', 'verify'], ext: true });
    expect(key.kid).toMatch(/^[0-9a-f-]{36}$/);
    expect(key.d).toEqual(expect.any(String));
    expect(parseKeyList([key]).ok).toBe(true);
  });
});

describe('the life of the key file', () => {
  test('the first key signs at once, a second waits as a standby', () => {
    const a = generateKey('ES256');
    const b = generateKey('RS256');
    const one = keysOf(addKey([], a));
    expect(signer(one)).toBe(a.kid);
    const two = keysOf(addKey(one, b));
    expect(signer(two)).toBe(a.kid);
    expect(two.map((k) => [k.kid, k.key_ops])).toEqual([
      [a.kid, ['sign', 'verify']],
      [b.kid, ['verify']],
    ]);
  });

  test('rotate makes the standby sign and keeps the previous key, verify only', () => {
    const a = generateKey('ES256');
    const b = generateKey('ES256');
    const rotated = keysOf(rotateTo(keysOf(addKey(keysOf(addKey([], a)), b)), String(b.kid)));
    expect(signer(rotated)).toBe(b.kid);
    expect(rotated.map((k) => [k.kid, k.key_ops])).toEqual([
      [b.kid, ['sign', 'verify']],
      [a.kid, ['verify']],
    ]);
  });

  test('revoke removes a key, but not the signing one', () => {
    const a = generateKey('ES256');
    const b = generateKey('ES256');
    const keys = keysOf(rotateTo(keysOf(addKey(keysOf(addKey([], a)), b)), String(b.kid)));
    const refused = revokeKey(keys, String(b.kid));
    expect(refused).toMatchObject({
      ok: false,
      message: expect.stringMatching(/signs new tokens; make another key sign first/),
    });
    const revoked = keysOf(revokeKey(keys, String(a.kid)));
    expect(revoked.map((k) => k.kid)).toEqual([b.kid]);
  });

  test.each<[string, (keys: JWK[]) => KeyChange, RegExp]>([
    ['rotate to an unknown kid', (keys) => rotateTo(keys, 'nope'), /no key nope in the file/],
    ['revoke an unknown kid', (keys) => revokeKey(keys, 'nope'), /no key nope in the file/],
    [
      'rotate to a public-only key',
      (keys) => rotateTo([...keys, { ...generateKey('ES256'), kid: 'pub', d: undefined }], 'pub'),
      /key pub has no private part/,
    ],
    ['change a broken file', (keys) => addKey([...keys, { kty: 'EC', kid: 'x' }], generateKey('ES256')), /curve/],
  ])('refuses to %s', (_name, change, message) => {
    const result = change(keysOf(addKey([], generateKey('ES256'))));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });
});
