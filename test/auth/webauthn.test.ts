/** The pure parts of the WebAuthn ceremonies: user handles and the credential JSON checks. */
import { describe, expect, test } from 'vitest';
import { parseAssertion, parseRegistration, userHandle, userIdFromHandle } from '../../src/auth/webauthn.js';

const registration = {
  id: 'AAEC',
  rawId: 'AAEC',
  type: 'public-key',
  response: { clientDataJSON: 'eyJ9', attestationObject: 'o2Nm' },
};
const assertion = {
  id: 'AAEC',
  rawId: 'AAEC',
  type: 'public-key',
  response: { clientDataJSON: 'eyJ9', authenticatorData: 'AAAA', signature: 'MEUC' },
};

describe('user handles', () => {
  test('a user id travels as its 16 bytes and comes back', () => {
    const id = '6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';
    expect(userHandle(id)).toHaveLength(16);
    expect(userIdFromHandle(Buffer.from(userHandle(id)).toString('base64url'))).toBe(id);
  });
  test.each([undefined, '', 'AAAA', Buffer.alloc(17).toString('base64url')])('%j names nobody', (h) => {
    expect(userIdFromHandle(h)).toBeUndefined();
  });
});

describe('credential JSON', () => {
  test('a well-formed registration and assertion pass, extension results defaulted', () => {
    expect(parseRegistration(registration)).toMatchObject({ ...registration, clientExtensionResults: {} });
    expect(parseAssertion(assertion)).toMatchObject(assertion);
    expect(
      parseAssertion({ ...assertion, response: { ...assertion.response, userHandle: null } })?.response,
    ).not.toHaveProperty('userHandle');
  });
  test.each<[string, unknown]>([
    ['null', null],
    ['a string', 'credential'],
    ['no response', { ...registration, response: undefined }],
    ['another type', { ...registration, type: 'password' }],
    ['non-base64url', { ...registration, id: 'a b' }],
    ['a NUL byte', { ...registration, authenticatorAttachment: 'a\u0000' }],
    ['a huge field', { ...registration, rawId: 'A'.repeat(70_000) }],
    ['an assertion given as a registration', assertion],
  ])('a registration that is %s is refused', (_name, value) => {
    expect(parseRegistration(value)).toBeUndefined();
  });
  test('a registration given as an assertion is refused', () => {
    expect(parseAssertion(registration)).toBeUndefined();
  });
});
