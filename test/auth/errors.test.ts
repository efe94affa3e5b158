/** GoTrue's status, error code and message for every auth error, so auth-js raises the same AuthApiError. */
import { describe, expect, test } from 'vitest';
import { authError, errors } from '../../src/auth/errors.js';
import { ApiError } from '../../src/errors.js';

const shape = (err: ApiError) => ({ status: err.status, code: err.code, message: err.message });

describe('auth errors', () => {
  test.each<[string, () => ApiError, number, string, string]>([
    [
      'badJson',
      () => errors.badJson('Could not parse request body as JSON'),
      400,
      'bad_json',
      'Could not parse request body as JSON',
    ],
    ['validation', () => errors.validation('Password is required'), 400, 'validation_failed', 'Password is required'],
    ['invalidEmail', errors.invalidEmail, 400, 'validation_failed', 'Unable to validate email address: invalid format'],
    ['weakPassword', () => errors.weakPassword(8), 422, 'weak_password', 'Password should be at least 8 characters.'],
    ['invalidCredentials', errors.invalidCredentials, 400, 'invalid_credentials', 'Invalid login credentials'],
    ['emailNotConfirmed', errors.emailNotConfirmed, 400, 'email_not_confirmed', 'Email not confirmed'],
    ['userBanned', errors.userBanned, 400, 'user_banned', 'User is banned'],
    ['userBannedForbidden', errors.userBannedForbidden, 403, 'user_banned', 'User is banned'],
    ['userExists', errors.userExists, 422, 'user_already_exists', 'User already registered'],
    [
      'emailExists',
      errors.emailExists,
      422,
      'email_exists',
      'A user with this email address has already been registered',
    ],
    ['signupDisabled', errors.signupDisabled, 422, 'signup_disabled', 'Signups not allowed for this instance'],
    [
      'anonymousDisabled',
      errors.anonymousDisabled,
      422,
      'anonymous_provider_disabled',
      'Anonymous sign-ins are disabled',
    ],
    ['phoneDisabled', errors.phoneDisabled, 422, 'phone_provider_disabled', 'Phone signups are disabled'],
    [
      'phoneDisabledAs',
      () => errors.phoneDisabledAs(400, 'Unsupported phone provider'),
      400,
      'phone_provider_disabled',
      'Unsupported phone provider',
    ],
    ['invalidPhone', errors.invalidPhone, 400, 'validation_failed', 'Invalid phone number format (E.164 required)'],
    [
      'invalidChannel',
      errors.invalidChannel,
      400,
      'validation_failed',
      "Invalid channel, supported values are 'sms' or 'whatsapp'. 'whatsapp' is only supported if Twilio or Twilio Verify is used as the provider.",
    ],
    [
      'phoneExists',
      errors.phoneExists,
      422,
      'phone_exists',
      'A user with this phone number has already been registered',
    ],
    ['phoneNotConfirmed', errors.phoneNotConfirmed, 400, 'phone_not_confirmed', 'Phone not confirmed'],
    [
      'smsSendFailed',
      () => errors.smsSendFailed('confirmation', 'boom'),
      422,
      'sms_send_failed',
      'Error sending confirmation OTP to provider: boom',
    ],
    ['smsRateLimited', errors.smsRateLimited, 429, 'over_sms_send_rate_limit', 'SMS rate limit exceeded'],
    [
      'smsTooFrequent',
      () => errors.smsTooFrequent(60),
      429,
      'over_sms_send_rate_limit',
      'For security purposes, you can only request this after 60 seconds.',
    ],
    ['noSmsProvider', errors.noSmsProvider, 500, 'unexpected_failure', 'Unable to get SMS provider'],
    ['otpSignupDisabled', errors.otpSignupDisabled, 422, 'otp_disabled', 'Signups not allowed for otp'],
    [
      'unsupportedGrant',
      () => errors.unsupportedGrant('id_token'),
      400,
      'unsupported_grant_type',
      'unsupported_grant_type: id_token',
    ],
    [
      'refreshNotFound',
      errors.refreshNotFound,
      400,
      'refresh_token_not_found',
      'Invalid Refresh Token: Refresh Token Not Found',
    ],
    ['refreshReused', errors.refreshReused, 400, 'refresh_token_already_used', 'Invalid Refresh Token: Already Used'],
    ['sessionExpired', errors.sessionExpired, 400, 'session_expired', 'Invalid Refresh Token: Session Expired'],
    ['missingJwt', errors.missingJwt, 401, 'no_authorization', 'This endpoint requires a valid Bearer token'],
    [
      'badJwt',
      () => errors.badJwt('token is expired'),
      403,
      'bad_jwt',
      'invalid JWT: unable to parse or verify signature, token is expired',
    ],
    [
      'sessionNotFound',
      errors.sessionNotFound,
      403,
      'session_not_found',
      'Session from session_id claim in JWT does not exist',
    ],
    ['userNotFound', errors.userNotFound, 404, 'user_not_found', 'User not found'],
    ['userNotFoundByEmail', errors.userNotFoundByEmail, 404, 'user_not_found', 'User with this email not found'],
    ['notAdmin', errors.notAdmin, 403, 'not_admin', 'User not allowed'],
    ['otpExpired', errors.otpExpired, 403, 'otp_expired', 'Token has expired or is invalid'],
    ['linkExpired', errors.linkExpired, 403, 'otp_expired', 'Email link is invalid or has expired'],
    ['mailFailed', () => errors.mailFailed('magic_link'), 500, 'unexpected_failure', 'Error sending magic link email'],
    [
      'samePassword',
      errors.samePassword,
      422,
      'same_password',
      'New password should be different from the old password.',
    ],
    ['rateLimited', errors.rateLimited, 429, 'over_request_rate_limit', 'Request rate limit reached'],
    [
      'emailTooFrequent',
      () => errors.emailTooFrequent(42),
      429,
      'over_email_send_rate_limit',
      'For security purposes, you can only request this after 42 seconds.',
    ],
    ['emailRateLimited', errors.emailRateLimited, 429, 'over_email_send_rate_limit', 'email rate limit exceeded'],
    ['accountLocked', () => errors.accountLocked(90), 429, 'over_request_rate_limit', 'Request rate limit reached'],
    ['mfaFactorNotFound', errors.mfaFactorNotFound, 404, 'mfa_factor_not_found', 'Factor not found'],
    [
      'mfaChallengeExpired',
      errors.mfaChallengeExpired,
      422,
      'mfa_challenge_expired',
      'MFA challenge has expired, verify against another challenge or create a new challenge.',
    ],
    [
      'mfaVerificationFailed',
      errors.mfaVerificationFailed,
      422,
      'mfa_verification_failed',
      'Invalid TOTP code entered',
    ],
    [
      'mfaFactorNameConflict',
      () => errors.mfaFactorNameConflict('phone'),
      422,
      'mfa_factor_name_conflict',
      'A factor with the friendly name "phone" for this user already exists',
    ],
    [
      'insufficientAalForUpdate',
      errors.insufficientAalForUpdate,
      403,
      'insufficient_aal',
      'AAL2 session is required to update email or password when MFA is enabled.',
    ],
    ['insufficientAal', errors.insufficientAal, 422, 'insufficient_aal', 'AAL2 required to unenroll verified factor'],
    [
      'insufficientAalToEnroll',
      errors.insufficientAalToEnroll,
      403,
      'insufficient_aal',
      'AAL2 required to enroll a new factor',
    ],
    [
      'mfaTotpDisabled enroll',
      () => errors.mfaTotpDisabled('enroll'),
      422,
      'mfa_totp_enroll_not_enabled',
      'MFA enroll is disabled for TOTP',
    ],
    [
      'mfaTotpDisabled verify',
      () => errors.mfaTotpDisabled('verify'),
      422,
      'mfa_totp_verify_not_enabled',
      'MFA verification is disabled for TOTP',
    ],
    [
      'tooManyFactors',
      errors.tooManyFactors,
      422,
      'too_many_enrolled_mfa_factors',
      'Maximum number of verified factors reached, unenroll to continue',
    ],
    [
      'mfaChallengeNotFound',
      errors.mfaChallengeNotFound,
      404,
      'mfa_factor_not_found',
      'MFA factor with the provided challenge ID not found',
    ],
    [
      'mfaChallengeSpent',
      errors.mfaChallengeSpent,
      422,
      'mfa_ip_address_mismatch',
      'Challenge and verify IP addresses mismatch',
    ],
    ['samlDisabled', errors.samlDisabled, 404, 'saml_provider_disabled', 'SAML 2.0 is disabled'],
    ['web3Disabled', errors.web3Disabled, 422, 'web3_provider_disabled', 'Web3 provider is disabled'],
    [
      'providerDisabled',
      () => errors.providerDisabled('https://accounts.google.com'),
      400,
      'provider_disabled',
      'Provider (issuer "https://accounts.google.com") is not enabled',
    ],
    [
      'manualLinkingDisabled',
      errors.manualLinkingDisabled,
      404,
      'manual_linking_disabled',
      'Manual linking is disabled',
    ],
    [
      'emailNotConfirmedForReauthentication',
      errors.emailNotConfirmedForReauthentication,
      422,
      'email_not_confirmed',
      'Please verify your email first.',
    ],
    [
      'emailNotConfirmedForbidden',
      errors.emailNotConfirmedForbidden,
      403,
      'email_not_confirmed',
      'Email not confirmed',
    ],
    [
      'phoneNotConfirmedForbidden',
      errors.phoneNotConfirmedForbidden,
      403,
      'phone_not_confirmed',
      'Phone not confirmed',
    ],
    ['passkeyDisabled', errors.passkeyDisabled, 404, 'passkey_disabled', 'Passkeys are disabled'],
    ['passkeyNotFound', errors.passkeyNotFound, 404, 'validation_failed', 'Passkey not found'],
    ['tooManyPasskeys', errors.tooManyPasskeys, 422, 'too_many_passkeys', 'Maximum number of passkeys reached'],
    [
      'passkeyInsufficientAal',
      errors.passkeyInsufficientAal,
      403,
      'insufficient_aal',
      'AAL2 session is required to manage passkeys when MFA is enabled',
    ],
    [
      'webauthnChallengeNotFound',
      errors.webauthnChallengeNotFound,
      400,
      'webauthn_challenge_not_found',
      'Challenge not found or already used',
    ],
    [
      'webauthnChallengeExpired',
      errors.webauthnChallengeExpired,
      400,
      'webauthn_challenge_expired',
      'Challenge has expired',
    ],
    [
      'webauthnInvalidCredential',
      errors.webauthnInvalidCredential,
      400,
      'webauthn_verification_failed',
      'Invalid credential response',
    ],
    [
      'webauthnVerificationFailed',
      errors.webauthnVerificationFailed,
      400,
      'webauthn_verification_failed',
      'Credential verification failed',
    ],
    [
      'webauthnCredentialExists',
      errors.webauthnCredentialExists,
      422,
      'webauthn_credential_exists',
      'This credential is already registered',
    ],
    [
      'anonymousNotAllowed',
      errors.anonymousNotAllowed,
      403,
      'no_authorization',
      'Anonymous user not allowed to perform these actions',
    ],
    ['mfaWebAuthnFailed', errors.mfaWebAuthnFailed, 422, 'mfa_verification_failed', 'WebAuthn verification failed'],
    [
      'reauthenticationNeeded',
      errors.reauthenticationNeeded,
      400,
      'reauthentication_needed',
      'Password update requires reauthentication',
    ],
    [
      'reauthenticationNotValid',
      errors.reauthenticationNotValid,
      422,
      'reauthentication_not_valid',
      'Nonce has expired or is invalid',
    ],
    ['oauthServerDisabled', errors.oauthServerDisabled, 404, 'feature_disabled', 'OAuth server is disabled'],
    [
      'oauthInvalidClient',
      () => errors.oauthInvalidClient('Client authentication required for OAuth session'),
      400,
      'invalid_client',
      'Client authentication required for OAuth session',
    ],
    ['oauthClientNotFound', errors.oauthClientNotFound, 404, 'oauth_client_not_found', 'OAuth client not found'],
    [
      'oauthClientNotFoundBadRequest',
      () => errors.oauthClientNotFoundBadRequest('invalid client_id'),
      400,
      'oauth_client_not_found',
      'invalid client_id',
    ],
    [
      'oauthAuthorizationNotFound',
      errors.oauthAuthorizationNotFound,
      404,
      'oauth_authorization_not_found',
      'authorization not found',
    ],
    [
      'oauthDynamicRegistrationDisabled',
      errors.oauthDynamicRegistrationDisabled,
      403,
      'oauth_dynamic_client_registration_disabled',
      'Dynamic client registration is not enabled',
    ],
    [
      'mfaWebAuthnDisabled enroll',
      () => errors.mfaWebAuthnDisabled('enroll'),
      422,
      'mfa_webauthn_enroll_not_enabled',
      'MFA enroll is disabled for WebAuthn',
    ],
    [
      'mfaWebAuthnDisabled verify',
      () => errors.mfaWebAuthnDisabled('verify'),
      422,
      'mfa_webauthn_verify_not_enabled',
      'MFA verification is disabled for WebAuthn',
    ],
    ['notFound', errors.notFound, 404, 'not_found', 'Not found'],
    [
      'bodyTooLarge',
      () => errors.bodyTooLarge(1024),
      413,
      'request_too_large',
      'Request body is larger than 1024 bytes',
    ],
    [
      'hookTimeout',
      () => errors.hookTimeout(5),
      422,
      'hook_timeout',
      'Failed to reach hook within maximum time of 5.000000 seconds',
    ],
    [
      'hookTimeoutAfterRetry',
      errors.hookTimeoutAfterRetry,
      422,
      'hook_timeout_after_retry',
      'Failed to reach hook after maximum retries',
    ],
    [
      'hookContentType',
      () => errors.hookContentType('Invalid Content-Type: Missing Content-Type header'),
      400,
      'hook_payload_invalid_content_type',
      'Invalid Content-Type: Missing Content-Type header',
    ],
    [
      'hookOverSizeLimit',
      () => errors.hookOverSizeLimit(204800),
      422,
      'hook_payload_over_size_limit',
      'Payload size exceeded size limit of 204800 bytes',
    ],
    [
      'hookFailed',
      () => errors.hookFailed('Invalid payload sent to hook'),
      500,
      'unexpected_failure',
      'Invalid payload sent to hook',
    ],
    ['hookRefused 403', () => errors.hookRefused(403, 'no'), 403, 'unknown', 'no'],
    ['hookRefused 500', () => errors.hookRefused(500, 'no'), 500, 'unexpected_failure', 'no'],
    ['hookRefused out of range', () => errors.hookRefused(200, 'no'), 500, 'unexpected_failure', 'no'],
    ['mfaVerificationRejected', () => errors.mfaVerificationRejected('stop'), 403, 'mfa_verification_rejected', 'stop'],
    [
      'passwordVerificationRejected',
      () => errors.passwordVerificationRejected('stop'),
      400,
      'invalid_credentials',
      'stop',
    ],
  ])('%s is %i %s', (_name, make, status, code, message) => {
    const err = make();
    expect(err).toBeInstanceOf(ApiError);
    expect(shape(err)).toEqual({ status, code, message });
  });

  test('the table above names every error there is', () => {
    expect(Object.keys(errors)).toHaveLength(90);
  });

  test("weak_password carries GoTrue's reasons field", () => {
    expect(errors.weakPassword(6).extra).toEqual({ fields: { weak_password: { reasons: ['length'] } } });
  });

  test('a too-large body closes the connection, whose unread rest cannot carry another request', () => {
    expect(errors.bodyTooLarge(10).extra).toEqual({ headers: { connection: 'close' } });
  });

  test('authError adds fields only when given', () => {
    expect(authError(400, 'x', 'y').extra).toEqual({});
    expect(authError(400, 'x', 'y', { a: 1 }).extra).toEqual({ fields: { a: 1 } });
  });

  test.each([
    [
      'an issuer',
      () => errors.providerDisabled('i'.repeat(500)),
      `Provider (issuer "${'i'.repeat(200)}") is not enabled`,
    ],
    ['a grant type', () => errors.unsupportedGrant('g'.repeat(500)), `unsupported_grant_type: ${'g'.repeat(40)}`],
    [
      'a factor name',
      () => errors.mfaFactorNameConflict('n'.repeat(500)),
      `A factor with the friendly name "${'n'.repeat(100)}" for this user already exists`,
    ],
  ])('user input echoed in a message is cut short: %s', (_name, make, message) => {
    expect(make().message).toBe(message);
  });

  test.each([
    ['confirmation', 'Error sending confirmation email'],
    ['email_change', 'Error sending email change email'],
    ['reauthentication', 'Error sending reauthentication email'],
  ])('mailFailed(%j) names the mail kind in words', (kind, message) => {
    expect(errors.mailFailed(kind).message).toBe(message);
  });
});
