/** The rate-limit rules of the auth endpoints, from config (Supabase's defaults in spirit). */
import type { Config } from '../config.js';
import type { RateLimitRule } from '../platform/limiter/index.js';

export interface AuthLimits {
  readonly signIn: RateLimitRule;
  readonly tokenRefresh: RateLimitRule;
  readonly verify: RateLimitRule;
  readonly emailSent: RateLimitRule;
  readonly anonymous: RateLimitRule;
  /** One mail per address per AUTH_EMAIL_MAX_FREQUENCY seconds; undefined when that is 0. */
  readonly emailPerAddress: RateLimitRule | undefined;
}

export function authLimits(config: Config): AuthLimits {
  const l = config.auth.rateLimits;
  return {
    signIn: { name: 'auth_sign_in', points: l.signIn, durationS: 300 },
    tokenRefresh: { name: 'auth_token_refresh', points: l.tokenRefresh, durationS: 300 },
    verify: { name: 'auth_verify', points: l.verify, durationS: 300 },
    emailSent: { name: 'auth_email_sent', points: l.emailSent, durationS: 3600 },
    anonymous: { name: 'auth_anonymous', points: l.anonymous, durationS: 3600 },
    emailPerAddress: l.emailMaxFrequency > 0 ? { name: 'auth_email_per_address', points: 1, durationS: l.emailMaxFrequency } : undefined,
  };
}
