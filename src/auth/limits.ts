/** The rate-limit rules of the auth endpoints, from config (Supabase's defaults in spirit). */
import type { Config } from '../config.js';
import type { RateLimitRule } from '../platform/limiter/index.js';

export interface AuthLimits {
  /** Sign-ups with an email and password (GoTrue's /signup bucket). */
  readonly signIn: RateLimitRule;
  /** Password sign-ins, POST /token?grant_type=password: a bucket of their own, as on GoTrue. */
  readonly tokenPassword: RateLimitRule;
  readonly tokenRefresh: RateLimitRule;
  readonly verify: RateLimitRule;
  /** Every mail, whole server, per hour (GoTrue's RATE_LIMIT_EMAIL_SENT). */
  readonly emailSent: RateLimitRule;
  /**
   * The part of `emailSent` that mails to new or unconfirmed addresses may use: the rest is kept for
   * recovery and sign-in mails of confirmed users. Points 0 when the whole budget is reserved.
   */
  readonly emailSentUnreserved: RateLimitRule;
  readonly anonymous: RateLimitRule;
  /** One mail per address per AUTH_EMAIL_MAX_FREQUENCY seconds; undefined when that is 0. */
  readonly emailPerAddress: RateLimitRule | undefined;
  readonly emailPerAddressHourly: RateLimitRule;
  readonly emailPerIp: RateLimitRule;
  /** Wrong passwords per account (email address) per window, counted in PostgreSQL (attempts.ts). */
  readonly passwordFailures: { readonly max: number; readonly windowS: number };
  /** Text messages, whole server, per hour (GoTrue's RATE_LIMIT_SMS_SENT). */
  readonly smsSent: RateLimitRule;
  /** Wrong codes a one-time code or a TOTP challenge survives. */
  readonly otpMaxAttempts: number;
}

export function authLimits(config: Config): AuthLimits {
  const l = config.auth.rateLimits;
  const reserved = Math.floor((l.emailSent * l.emailReservePercent) / 100);
  return {
    signIn: { name: 'auth_sign_in', points: l.signIn, durationS: 300 },
    tokenPassword: { name: 'auth_token_password', points: l.tokenPassword, durationS: 300 },
    tokenRefresh: { name: 'auth_token_refresh', points: l.tokenRefresh, durationS: 300 },
    verify: { name: 'auth_verify', points: l.verify, durationS: 300 },
    emailSent: { name: 'auth_email_sent', points: l.emailSent, durationS: 3600 },
    emailSentUnreserved: { name: 'auth_email_sent_unreserved', points: l.emailSent - reserved, durationS: 3600 },
    anonymous: { name: 'auth_anonymous', points: l.anonymous, durationS: 3600 },
    emailPerAddress:
      l.emailMaxFrequency > 0
        ? { name: 'auth_email_per_address', points: 1, durationS: l.emailMaxFrequency }
        : undefined,
    emailPerAddressHourly: { name: 'auth_email_per_address_hour', points: l.emailPerAddress, durationS: 3600 },
    emailPerIp: { name: 'auth_email_per_ip', points: l.emailPerIp, durationS: 3600 },
    passwordFailures: { max: l.passwordFailures, windowS: l.passwordFailureWindowS },
    otpMaxAttempts: l.otpMaxAttempts,
    smsSent: { name: 'auth_sms_sent', points: config.auth.sms.sentPerHour, durationS: 3600 },
  };
}
