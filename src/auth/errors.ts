/** GoTrue's error codes and messages, so auth-js raises the same AuthApiError as on Supabase. */
import { ApiError } from '../errors.js';

export const authError = (status: number, code: string, message: string, fields?: Record<string, unknown>) =>
  new ApiError(status, code, message, fields ? { fields } : {});

export const errors = {
  badJson: (message: string) => authError(400, 'bad_json', message),
  validation: (message: string) => authError(400, 'validation_failed', message),
  /** GoTrue's validateEmail: its checkmail library's wording for an address that is no address. */
  invalidEmail: () => authError(400, 'validation_failed', 'Unable to validate email address: invalid format'),
  weakPassword: (min: number) =>
    authError(422, 'weak_password', `Password should be at least ${min} characters.`, {
      weak_password: { reasons: ['length'] },
    }),
  invalidCredentials: () => authError(400, 'invalid_credentials', 'Invalid login credentials'),
  emailNotConfirmed: () => authError(400, 'email_not_confirmed', 'Email not confirmed'),
  userBanned: () => authError(400, 'user_banned', 'User is banned'),
  /** GoTrue answers a banned user's link or code with 403 (its password grant with 400). */
  userBannedForbidden: () => authError(403, 'user_banned', 'User is banned'),
  userExists: () => authError(422, 'user_already_exists', 'User already registered'),
  emailExists: () => authError(422, 'email_exists', 'A user with this email address has already been registered'),
  signupDisabled: () => authError(422, 'signup_disabled', 'Signups not allowed for this instance'),
  anonymousDisabled: () => authError(422, 'anonymous_provider_disabled', 'Anonymous sign-ins are disabled'),
  phoneDisabled: () => authError(422, 'phone_provider_disabled', 'Phone signups are disabled'),
  /** GoTrue words "phone off" differently per endpoint (signup, otp, token, resend); status too. */
  phoneDisabledAs: (status: 400 | 422, message: string) => authError(status, 'phone_provider_disabled', message),
  invalidPhone: () => authError(400, 'validation_failed', 'Invalid phone number format (E.164 required)'),
  invalidChannel: () =>
    authError(
      400,
      'validation_failed',
      "Invalid channel, supported values are 'sms' or 'whatsapp'. 'whatsapp' is only supported if Twilio or Twilio Verify is used as the provider.",
    ),
  phoneExists: () => authError(422, 'phone_exists', 'A user with this phone number has already been registered'),
  phoneNotConfirmed: () => authError(400, 'phone_not_confirmed', 'Phone not confirmed'),
  /** The provider refused or failed; `what` is GoTrue's OTP kind (confirmation, phone_change). */
  smsSendFailed: (what: string, why: string) =>
    authError(422, 'sms_send_failed', `Error sending ${what} OTP to provider: ${why.slice(0, 300)}`),
  smsRateLimited: () => authError(429, 'over_sms_send_rate_limit', 'SMS rate limit exceeded'),
  smsTooFrequent: (seconds: number) =>
    authError(
      429,
      'over_sms_send_rate_limit',
      `For security purposes, you can only request this after ${seconds} seconds.`,
    ),
  /** No AUTH_SMS_PROVIDER and a number that is no test number: GoTrue's answer (a 500). */
  noSmsProvider: () => authError(500, 'unexpected_failure', 'Unable to get SMS provider'),
  otpSignupDisabled: () => authError(422, 'otp_disabled', 'Signups not allowed for otp'),
  unsupportedGrant: (grant: string) =>
    authError(400, 'unsupported_grant_type', `unsupported_grant_type: ${grant.slice(0, 40)}`),
  refreshNotFound: () => authError(400, 'refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found'),
  refreshReused: () => authError(400, 'refresh_token_already_used', 'Invalid Refresh Token: Already Used'),
  sessionExpired: () => authError(400, 'session_expired', 'Invalid Refresh Token: Session Expired'),
  missingJwt: () => authError(401, 'no_authorization', 'This endpoint requires a valid Bearer token'),
  badJwt: (why: string) => authError(403, 'bad_jwt', `invalid JWT: unable to parse or verify signature, ${why}`),
  sessionNotFound: () => authError(403, 'session_not_found', 'Session from session_id claim in JWT does not exist'),
  userNotFound: () => authError(404, 'user_not_found', 'User not found'),
  userNotFoundByEmail: () => authError(404, 'user_not_found', 'User with this email not found'),
  notAdmin: () => authError(403, 'not_admin', 'User not allowed'),
  otpExpired: () => authError(403, 'otp_expired', 'Token has expired or is invalid'),
  linkExpired: () => authError(403, 'otp_expired', 'Email link is invalid or has expired'),
  mailFailed: (kind: string) => authError(500, 'unexpected_failure', `Error sending ${kind.replace('_', ' ')} email`),
  samePassword: () => authError(422, 'same_password', 'New password should be different from the old password.'),
  rateLimited: () => authError(429, 'over_request_rate_limit', 'Request rate limit reached'),
  /** An account over its wrong-password limit: GoTrue's rate-limit answer, with how long to wait. */
  accountLocked: (retryAfterS: number) =>
    new ApiError(429, 'over_request_rate_limit', 'Request rate limit reached', {
      headers: { 'retry-after': String(Math.max(1, retryAfterS)) },
    }),
  emailTooFrequent: (seconds: number) =>
    authError(
      429,
      'over_email_send_rate_limit',
      `For security purposes, you can only request this after ${seconds} seconds.`,
    ),
  emailRateLimited: () => authError(429, 'over_email_send_rate_limit', 'email rate limit exceeded'),
  mfaFactorNotFound: () => authError(404, 'mfa_factor_not_found', 'Factor not found'),
  mfaChallengeExpired: () =>
    authError(
      422,
      'mfa_challenge_expired',
      'MFA challenge has expired, verify against another challenge or create a new challenge.',
    ),
  mfaVerificationFailed: () => authError(422, 'mfa_verification_failed', 'Invalid TOTP code entered'),
  mfaFactorNameConflict: (name: string) =>
    authError(
      422,
      'mfa_factor_name_conflict',
      `A factor with the friendly name "${name.slice(0, 100)}" for this user already exists`,
    ),
  insufficientAalForUpdate: () =>
    authError(403, 'insufficient_aal', 'AAL2 session is required to update email or password when MFA is enabled.'),
  insufficientAal: () => authError(422, 'insufficient_aal', 'AAL2 required to unenroll verified factor'),
  insufficientAalToEnroll: () => authError(403, 'insufficient_aal', 'AAL2 required to enroll a new factor'),
  /** [auth.mfa.totp] enroll_enabled / verify_enabled turned off: GoTrue's answers. */
  mfaTotpDisabled: (what: 'enroll' | 'verify') =>
    what === 'enroll'
      ? authError(422, 'mfa_totp_enroll_not_enabled', 'MFA enroll is disabled for TOTP')
      : authError(422, 'mfa_totp_verify_not_enabled', 'MFA verification is disabled for TOTP'),
  tooManyFactors: () =>
    authError(422, 'too_many_enrolled_mfa_factors', 'Maximum number of verified factors reached, unenroll to continue'),
  mfaChallengeNotFound: () =>
    authError(404, 'mfa_factor_not_found', 'MFA factor with the provided challenge ID not found'),
  // GoTrue words a spent challenge like a challenge from another address, to leak neither.
  mfaChallengeSpent: () => authError(422, 'mfa_ip_address_mismatch', 'Challenge and verify IP addresses mismatch'),
  // The features Trellis does not offer, refused in the words GoTrue uses when they are turned off.
  samlDisabled: () => authError(404, 'saml_provider_disabled', 'SAML 2.0 is disabled'),
  web3Disabled: () => authError(422, 'web3_provider_disabled', 'Web3 provider is disabled'),
  providerDisabled: (issuer: string) =>
    authError(400, 'provider_disabled', `Provider (issuer "${issuer.slice(0, 200)}") is not enabled`),
  manualLinkingDisabled: () => authError(404, 'manual_linking_disabled', 'Manual linking is disabled'),
  emailNotConfirmedForReauthentication: () => authError(422, 'email_not_confirmed', 'Please verify your email first.'),
  // Auth hooks (hooks*.ts): GoTrue's answers when a hook fails (internal/hooks/hookshttp, v0hooks).
  hookTimeout: (seconds: number) =>
    authError(422, 'hook_timeout', `Failed to reach hook within maximum time of ${seconds.toFixed(6)} seconds`),
  hookTimeoutAfterRetry: () => authError(422, 'hook_timeout_after_retry', 'Failed to reach hook after maximum retries'),
  hookContentType: (message: string) => authError(400, 'hook_payload_invalid_content_type', message),
  hookOverSizeLimit: (bytes: number) =>
    authError(422, 'hook_payload_over_size_limit', `Payload size exceeded size limit of ${bytes} bytes`),
  hookFailed: (message: string) => authError(500, 'unexpected_failure', message),
  /** A hook's own `{error: {http_code, message}}`: passed through (GoTrue's code for it: unexpected_failure at 500, unknown otherwise). */
  hookRefused: (status: number, message: string) => {
    const code = status >= 400 && status <= 599 ? status : 500;
    return authError(code, code === 500 ? 'unexpected_failure' : 'unknown', message.slice(0, 1000));
  },
  mfaVerificationRejected: (message: string) => authError(403, 'mfa_verification_rejected', message.slice(0, 1000)),
  passwordVerificationRejected: (message: string) => authError(400, 'invalid_credentials', message.slice(0, 1000)),
  notFound: () => authError(404, 'not_found', 'Not found'),
  // WebAuthn factors, passkeys, reauthentication and the OAuth server (GoTrue's codes and words).
  emailNotConfirmedForbidden: () => authError(403, 'email_not_confirmed', 'Email not confirmed'),
  phoneNotConfirmedForbidden: () => authError(403, 'phone_not_confirmed', 'Phone not confirmed'),
  passkeyDisabled: () => authError(404, 'passkey_disabled', 'Passkeys are disabled'),
  passkeyNotFound: () => authError(404, 'validation_failed', 'Passkey not found'),
  tooManyPasskeys: () => authError(422, 'too_many_passkeys', 'Maximum number of passkeys reached'),
  passkeyInsufficientAal: () =>
    authError(403, 'insufficient_aal', 'AAL2 session is required to manage passkeys when MFA is enabled'),
  webauthnChallengeNotFound: () =>
    authError(400, 'webauthn_challenge_not_found', 'Challenge not found or already used'),
  webauthnChallengeExpired: () => authError(400, 'webauthn_challenge_expired', 'Challenge has expired'),
  webauthnInvalidCredential: () => authError(400, 'webauthn_verification_failed', 'Invalid credential response'),
  webauthnVerificationFailed: () => authError(400, 'webauthn_verification_failed', 'Credential verification failed'),
  webauthnCredentialExists: () => authError(422, 'webauthn_credential_exists', 'This credential is already registered'),
  anonymousNotAllowed: () => authError(403, 'no_authorization', 'Anonymous user not allowed to perform these actions'),
  mfaWebAuthnDisabled: (what: 'enroll' | 'verify') =>
    what === 'enroll'
      ? authError(422, 'mfa_webauthn_enroll_not_enabled', 'MFA enroll is disabled for WebAuthn')
      : authError(422, 'mfa_webauthn_verify_not_enabled', 'MFA verification is disabled for WebAuthn'),
  mfaWebAuthnFailed: () => authError(422, 'mfa_verification_failed', 'WebAuthn verification failed'),
  reauthenticationNeeded: () => authError(400, 'reauthentication_needed', 'Password update requires reauthentication'),
  reauthenticationNotValid: () => authError(422, 'reauthentication_not_valid', 'Nonce has expired or is invalid'),
  oauthServerDisabled: () => authError(404, 'feature_disabled', 'OAuth server is disabled'),
  /** GoTrue's NewOAuthError("invalid_client", …): rendered `{error, error_description}`, 400. */
  oauthInvalidClient: (description: string) => authError(400, 'invalid_client', description),
  oauthClientNotFound: () => authError(404, 'oauth_client_not_found', 'OAuth client not found'),
  oauthClientNotFoundBadRequest: (message: string) => authError(400, 'oauth_client_not_found', message),
  oauthAuthorizationNotFound: () => authError(404, 'oauth_authorization_not_found', 'authorization not found'),
  oauthConsentNotFound: () => authError(404, 'oauth_consent_not_found', 'No active grant found for this client'),
  oauthDynamicRegistrationDisabled: () =>
    authError(403, 'oauth_dynamic_client_registration_disabled', 'Dynamic client registration is not enabled'),
  /** The body was not read to its end, so the connection cannot carry another request. */
  bodyTooLarge: (max: number) =>
    new ApiError(413, 'request_too_large', `Request body is larger than ${max} bytes`, {
      headers: { connection: 'close' },
    }),
};

/** The codes readJson answers a body that is not JSON, or not the expected shape, with (GoTrue's). */
export const codes = { badJson: 'bad_json', invalid: 'validation_failed' } as const;
