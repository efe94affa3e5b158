/** The pure part of sessions: the key that seals each session's active refresh token. */
import { describe, expect, test } from 'vitest';
import { refreshSealKey } from '../../src/auth/sessions.js';

const SECRET = new TextEncoder().encode('test-secret-with-at-least-32-characters!');

describe('refreshSealKey', () => {
  test('is HKDF-SHA256 of the JWT secret, salt "trellis", info "refresh-token-seal", 32 bytes', () => {
    // Computed with OpenSSL (`openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt key:<secret>
    // -kdfopt salt:trellis -kdfopt info:refresh-token-seal HKDF`). Tokens sealed in existing
    // databases only unseal while this stays the same.
    expect(refreshSealKey(SECRET).toString('hex')).toBe(
      '42036eab1db5e63008667a49601290d27b3f22224f55a02de290fb5b1031f10c',
    );
  });

  test('every instance with the same secret derives the same key; another secret another key', () => {
    expect(refreshSealKey(SECRET).equals(refreshSealKey(new Uint8Array(SECRET)))).toBe(true);
    expect(
      refreshSealKey(new TextEncoder().encode('another-secret-with-at-least-32-characters')).equals(
        refreshSealKey(SECRET),
      ),
    ).toBe(false);
  });
});
