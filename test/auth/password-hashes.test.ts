import crypto from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { hash as argon2Hash, Algorithm } from '@node-rs/argon2';
import { hashPassword, needsRehash, verifyPassword } from '../../src/auth/crypto.js';
import { isArgon2Hash, isImportedHashFormat, parseFirebaseScrypt } from '../../src/auth/password-hashes.js';

// GoTrue's own vectors (internal/crypto/password_test.go): the same hashes must verify here.
const GOTRUE_ARGON2 = [
  '$argon2i$v=19$m=16,t=2,p=1$bGJRWThNOHJJTVBSdHl2dQ$NfEnUOuUpb7F2fQkgFUG4g',
  '$argon2id$v=19$m=32,t=3,p=2$SFVpOWJ0eXhjRzVkdGN1RQ$RXnb8rh7LaDcn07xsssqqulZYXOM/EUCEFMVcAcyYVk',
];
const FB_PARAMS = 'ss=Bw==,sk=ou9tdYTGyYm8kuR6Dt0Bp0kDuAYoXrK16mbZO4yGwAn3oLspjnN0/c41v8xZnO1n14J3MjKj1b2g6AUCAlFwMw==';
const FB_TAIL =
  '$C0sHCg9ek77hsg==$zKVTMvnWVw5BBOZNUdnsalx4c4c7y/w7IS5p6Ut2+CfEFFlz37J9huyQfov4iizN8dbjvEJlM5tQaJP84+hfTw==';
const GOTRUE_FBSCRYPT = `$fbscrypt$v=1,n=14,r=8,p=1,${FB_PARAMS}${FB_TAIL}`;

describe('imported argon2 hashes', () => {
  test.each(GOTRUE_ARGON2)('GoTrue vector %s verifies "test" and refuses "test1"', async (stored) => {
    expect(isArgon2Hash(stored)).toBe(true);
    expect(await verifyPassword(stored, 'test')).toBe(true);
    expect(await verifyPassword(stored, 'test1')).toBe(false);
  });

  test.each([
    ['version 16', '$argon2id$v=16$m=16,t=2,p=1$bGJRWThNOHJJTVBSdHl2dQ$NfEnUOuUpb7F2fQkgFUG4g'],
    ['a data parameter', '$argon2id$v=19$m=16,t=2,p=1,data=abc$bGJRWThNOHJJTVBSdHl2dQ$NfEnUOuUpb7F2fQkgFUG4g'],
    ['a keyid parameter', '$argon2id$v=19$m=16,t=2,p=1,keyid=abc$bGJRWThNOHJJTVBSdHl2dQ$NfEnUOuUpb7F2fQkgFUG4g'],
    ['m over 1 GiB', '$argon2id$v=19$m=4294967297,t=2,p=1$bGJRWThNOHJJTVBSdHl2dQ$NfEnUOuUpb7F2fQkgFUG4g'],
    [
      'm over 256 MiB (GoTrue allows 1 GiB)',
      '$argon2id$v=19$m=262145,t=2,p=1$bGJRWThNOHJJTVBSdHl2dQ$NfEnUOuUpb7F2fQkgFUG4g',
    ],
    ['t over 10 (GoTrue allows 20)', '$argon2id$v=19$m=16,t=11,p=1$bGJRWThNOHJJTVBSdHl2dQ$NfEnUOuUpb7F2fQkgFUG4g'],
    ['p over 16', '$argon2id$v=19$m=16,t=2,p=256$bGJRWThNOHJJTVBSdHl2dQ$NfEnUOuUpb7F2fQkgFUG4g'],
    ['a bad salt', '$argon2id$v=19$m=16,t=2,p=1$!!!$NfEnUOuUpb7F2fQkgFUG4g'],
    ['a bad hash', '$argon2id$v=19$m=16,t=2,p=1$bGJRWThNOHJJTVBSdHl2dQ$!!!'],
    ['no salt', '$argon2id$v=19$m=16,t=2,p=1$$NfEnUOuUpb7F2fQkgFUG4g'],
    ['no hash', '$argon2id$v=19$m=16,t=2,p=1$bGJRWThNOHJJTVBSdHl2dQ$'],
  ])('refuses %s', async (_why, stored) => {
    expect(isArgon2Hash(stored)).toBe(false);
    expect(isImportedHashFormat(stored)).toBe(false);
    expect(await verifyPassword(stored, 'test')).toBe(false);
  });
});

/** An independent Firebase scrypt hash: scrypt key, then AES-256-CTR (zero IV) over the signer key. */
function firebaseHash(password: string, n: number, r: number, p: number): string {
  const [salt, ss, sk] = [crypto.randomBytes(12), crypto.randomBytes(1), crypto.randomBytes(64)];
  const key = crypto.scryptSync(password, Buffer.concat([salt, ss]), 32, { N: 2 ** n, r, p, maxmem: 64 << 20 });
  const enc = crypto.createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const digest = Buffer.concat([enc.update(sk), enc.final()]);
  const b64 = (b: Buffer) => b.toString('base64');
  return `$fbscrypt$v=1,n=${n},r=${r},p=${p},ss=${b64(ss)},sk=${b64(sk)}$${b64(salt)}$${b64(digest)}`;
}

test('argon2d, which GoTrue refuses, still verifies: users imported with it before must sign in', async () => {
  const stored = await argon2Hash('test', { algorithm: Algorithm.Argon2d, memoryCost: 1024, timeCost: 1 });
  expect(stored.startsWith('$argon2d$v=19$')).toBe(true);
  expect(await verifyPassword(stored, 'test')).toBe(true);
  expect(await verifyPassword(stored, 'test1')).toBe(false);
});

describe('imported Firebase scrypt hashes', () => {
  test('GoTrue vector verifies "mytestpassword" and refuses "mytestpassword1"', async () => {
    expect(parseFirebaseScrypt(GOTRUE_FBSCRYPT)).toBeDefined();
    expect(await verifyPassword(GOTRUE_FBSCRYPT, 'mytestpassword')).toBe(true);
    expect(await verifyPassword(GOTRUE_FBSCRYPT, 'mytestpassword1')).toBe(false);
  });

  test('a hash made with node:crypto scrypt + AES-CTR (Firebase defaults n=14, r=8) verifies', async () => {
    const stored = firebaseHash('pässwörd 🔑', 14, 8, 1);
    expect(await verifyPassword(stored, 'pässwörd 🔑')).toBe(true);
    expect(await verifyPassword(stored, 'passwörd 🔑')).toBe(false);
  });

  test.each([
    ['version 2', `$fbscrypt$v=2,n=14,r=8,p=1,${FB_PARAMS}${FB_TAIL}`],
    ['n too large', `$fbscrypt$v=1,n=4294967297,r=8,p=1,${FB_PARAMS}${FB_TAIL}`],
    ['n=0', `$fbscrypt$v=1,n=0,r=8,p=1,${FB_PARAMS}${FB_TAIL}`],
    ['r too large', `$fbscrypt$v=1,n=14,r=18446744073709551617,p=1,${FB_PARAMS}${FB_TAIL}`],
    ['r=0', `$fbscrypt$v=1,n=14,r=0,p=1,${FB_PARAMS}${FB_TAIL}`],
    ['p too large', `$fbscrypt$v=1,n=14,r=8,p=256,${FB_PARAMS}${FB_TAIL}`],
    ['p=0', `$fbscrypt$v=1,n=14,r=8,p=0,${FB_PARAMS}${FB_TAIL}`],
    ['memory over 256 MiB', `$fbscrypt$v=1,n=20,r=8,p=1,${FB_PARAMS}${FB_TAIL}`],
    ['memory times parallelism over 256 MiB', `$fbscrypt$v=1,n=17,r=8,p=4,${FB_PARAMS}${FB_TAIL}`],
    ['a bad hash', `$fbscrypt$v=1,n=14,r=8,p=1,${FB_PARAMS}$C0sHCg9ek77hsg==$!!!`],
    ['a bad salt', `$fbscrypt$v=1,n=14,r=8,p=1,${FB_PARAMS}$!!!${FB_TAIL.slice(FB_TAIL.lastIndexOf('$'))}`],
    ['a bad signer key', `$fbscrypt$v=1,n=14,r=8,p=1,ss=Bw==,sk=!!!${FB_TAIL}`],
    ['a bad separator', `$fbscrypt$v=1,n=14,r=8,p=1,ss=!!!,sk=ou9t${FB_TAIL}`],
  ])('refuses %s', async (_why, stored) => {
    expect(parseFirebaseScrypt(stored)).toBeUndefined();
    expect(await verifyPassword(stored, 'mytestpassword')).toBe(false);
  });
});

describe('rehashing on sign-in', () => {
  test("Trellis's own argon2id hash is kept; every imported kind is replaced", async () => {
    expect(needsRehash(await hashPassword('x'))).toBe(false);
    const cheaper = await argon2Hash('x', { algorithm: Algorithm.Argon2id, memoryCost: 4096, timeCost: 1 });
    for (const imported of [
      ...GOTRUE_ARGON2,
      GOTRUE_FBSCRYPT,
      cheaper,
      '$2a$04$abcdefghijklmnopqrstuuAbCdEfGhIjKlMnOpQrStUvWxYz01234',
    ])
      expect(needsRehash(imported)).toBe(true);
    expect(needsRehash(null)).toBe(false);
  });
});
