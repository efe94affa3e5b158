/**
 * What auth is configured to do, for Studio's auth page: read-only, since every setting comes from
 * the environment or supabase/config.toml at start (`setIn` names where each one was found). No
 * secret leaves: OAuth secrets, hook secrets and SMS credentials are shown as set or not, passwords
 * in hook URLs are masked, and the signing keys are their public parts' kid and algorithm.
 */
import { decodeProtectedHeader } from 'jose';
import type { Config } from '../config.js';
import { HOOK_NAMES } from '../config/hooks.js';
import type { Tokens } from '../platform/tokens.js';

const MASK = '********';
const masked = (secret: string) => (secret === '' ? null : MASK);

/** A URL with its password masked (a hook's uri may carry basic-auth credentials). */
export function maskUrlPassword(uri: string): string {
  try {
    const url = new URL(uri);
    if (url.password === '') return uri;
    url.password = MASK;
    return url.toString();
  } catch {
    return uri.replace(/(\/\/[^:/@\s]*):[^@/\s]+@/, `$1:${MASK}@`);
  }
}

const hookEnv = (name: string, key: 'ENABLED' | 'URI' | 'SECRETS') =>
  `AUTH_HOOK_${name.replace(/[A-Z]/g, (m) => `_${m}`).toUpperCase()}_${key}`;

const SMS_CREDENTIALS: Record<string, (sms: Config['auth']['sms']) => Record<string, string>> = {
  twilio: (s) => ({ accountSid: s.twilio.accountSid, authToken: s.twilio.authToken }),
  twilio_verify: (s) => ({ accountSid: s.twilioVerify.accountSid, authToken: s.twilioVerify.authToken }),
  messagebird: (s) => ({ accessKey: s.messagebird.accessKey }),
  textlocal: (s) => ({ apiKey: s.textlocal.apiKey }),
  vonage: (s) => ({ apiKey: s.vonage.apiKey, apiSecret: s.vonage.apiSecret }),
};
// Which of those are identifiers (shown) rather than secrets (only said to be set).
const SHOWN = new Set(['accountSid']);

export async function authSettings(config: Config, tokens: Tokens) {
  const { auth } = config;
  const where = (env: string) => {
    const source = config.settingSources[env] ?? 'default';
    return env === 'JWT_SECRET' && source === 'default' ? 'made at the first start, kept in .trellis/' : source;
  };
  const setIn = (envs: Record<string, string>) =>
    Object.fromEntries(Object.entries(envs).map(([field, env]) => [field, where(env)]));
  const signer = decodeProtectedHeader(await tokens.sign({ role: 'anon', exp: Math.floor(Date.now() / 1000) }));
  const credentials = auth.sms.provider === '' ? {} : (SMS_CREDENTIALS[auth.sms.provider]?.(auth.sms) ?? {});
  return {
    siteUrl: auth.siteUrl,
    redirectUrls: auth.redirectUrls,
    signup: {
      disabled: auth.disableSignup,
      anonymous: auth.anonymousSignIns,
      manualLinking: auth.manualLinking,
      setIn: setIn({
        disabled: 'AUTH_DISABLE_SIGNUP',
        anonymous: 'AUTH_ANONYMOUS_SIGN_INS',
        manualLinking: 'AUTH_MANUAL_LINKING_ENABLED',
      }),
    },
    email: {
      // Email sign-ins have no switch in Trellis: they are always on.
      enabled: true,
      autoconfirm: !auth.emailConfirmation,
      passwordMinLength: auth.passwordMinLength,
      otpExpiry: auth.otpExpiry,
      setIn: setIn({
        autoconfirm: 'AUTH_EMAIL_CONFIRMATION',
        passwordMinLength: 'AUTH_PASSWORD_MIN_LENGTH',
        otpExpiry: 'AUTH_OTP_EXPIRY',
      }),
    },
    phone: {
      enabled: auth.sms.enabled,
      autoconfirm: !auth.sms.confirmation,
      provider: auth.sms.provider === '' ? null : auth.sms.provider,
      credentials: Object.fromEntries(
        Object.entries(credentials).map(([k, v]) => [k, SHOWN.has(k) ? v || null : masked(v)]),
      ),
      testNumbers: Object.keys(auth.sms.testOtp).length,
      setIn: setIn({
        enabled: 'AUTH_SMS_ENABLE_SIGNUP',
        autoconfirm: 'AUTH_SMS_CONFIRMATION',
        provider: 'AUTH_SMS_PROVIDER',
        testNumbers: 'AUTH_SMS_TEST_OTP',
      }),
    },
    external: Object.values(auth.external)
      .map((p) => {
        const name = p.name.toUpperCase().replace(/-/g, '_');
        return {
          id: p.id,
          enabled: p.enabled,
          clientId: p.clientIds[0] ?? null,
          clientIds: p.clientIds,
          secret: masked(p.secret),
          redirectUri: p.redirectUri || null,
          url: p.url || null,
          setIn: setIn({
            enabled: `AUTH_EXTERNAL_${name}_ENABLED`,
            clientId: `AUTH_EXTERNAL_${name}_CLIENT_ID`,
            secret: `AUTH_EXTERNAL_${name}_SECRET`,
          }),
        };
      })
      .sort((a, b) => Number(b.enabled) - Number(a.enabled) || a.id.localeCompare(b.id)),
    hooks: HOOK_NAMES.map((name) => {
      const target = auth.hooks.targets[name];
      return {
        name,
        enabled: target !== undefined,
        kind: target?.kind ?? null,
        uri: target ? maskUrlPassword(target.uri) : null,
        secrets: target?.kind === 'http' ? target.secrets.length : 0,
        setIn: setIn({ enabled: hookEnv(name, 'ENABLED'), uri: hookEnv(name, 'URI') }),
      };
    }),
    mfa: {
      maxEnrolledFactors: auth.mfa.maxEnrolledFactors,
      totp: { enroll: auth.mfa.totpEnroll, verify: auth.mfa.totpVerify },
      phone: { enroll: auth.sms.mfa.enroll, verify: auth.sms.mfa.verify },
      webauthn: { enroll: auth.webauthn.mfaEnroll, verify: auth.webauthn.mfaVerify },
      passkeys: auth.webauthn.passkeys,
      setIn: setIn({
        maxEnrolledFactors: 'AUTH_MFA_MAX_ENROLLED_FACTORS',
        totpEnroll: 'AUTH_MFA_TOTP_ENROLL_ENABLED',
        totpVerify: 'AUTH_MFA_TOTP_VERIFY_ENABLED',
        phoneEnroll: 'AUTH_MFA_PHONE_ENROLL_ENABLED',
        phoneVerify: 'AUTH_MFA_PHONE_VERIFY_ENABLED',
        webauthnEnroll: 'AUTH_MFA_WEB_AUTHN_ENROLL_ENABLED',
        webauthnVerify: 'AUTH_MFA_WEB_AUTHN_VERIFY_ENABLED',
        passkeys: 'AUTH_PASSKEY_ENABLED',
      }),
    },
    jwt: {
      expiry: auth.jwtExpiry,
      // What new access tokens carry; tokens signed with the legacy HS256 secret are accepted too.
      signing: { alg: signer.alg ?? null, kid: signer.kid ?? null },
      // The public parts only, as /auth/v1/.well-known/jwks.json lists them.
      keys: tokens.jwks().keys.map((k) => ({ kid: k.kid ?? null, alg: k.alg ?? null, kty: k.kty })),
      signingKeysPath: auth.signingKeysPath ?? null,
      setIn: setIn({
        expiry: 'JWT_EXPIRY',
        keys: auth.jwtKeys !== undefined ? 'AUTH_JWT_KEYS' : 'AUTH_SIGNING_KEYS_PATH',
        secret: 'JWT_SECRET',
      }),
    },
  };
}
