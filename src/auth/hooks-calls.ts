/**
 * The hooks that judge or replace one step of a flow, with GoTrue's payloads and answers
 * (internal/hooks/v0hooks): password_verification_attempt and mfa_verification_attempt may reject
 * an attempt (and end the user's sessions), send_email and send_sms deliver what the built-in
 * mailer or an SMS provider would.
 */
import type { Db, Tx } from '../db/index.js';
import type { ApiError } from '../errors.js';
import { errors } from './errors.js';
import { outputObject, type HookCall, type Hooks } from './hooks.js';

interface HookDeps {
  readonly hooks: Hooks;
  readonly db: Db;
}

// GoTrue's default messages (v0hooks) when a rejecting hook gives none.
const PASSWORD_REJECTED = 'Further password verification attempts will be rejected.';
const MFA_REJECTED = 'Further MFA verification attempts will be rejected.';

/** A decision hook's answer, with GoTrue's types: a field of another type is an unreadable answer. */
function decision(output: unknown): { reject: boolean; message: string; logout: boolean } {
  const o = outputObject(output);
  const wrong =
    (o.decision !== undefined && typeof o.decision !== 'string') ||
    (o.message !== undefined && typeof o.message !== 'string') ||
    (o.should_logout_user !== undefined && typeof o.should_logout_user !== 'boolean');
  if (wrong) throw errors.hookFailed('Error unmarshaling JSON output.');
  return {
    reject: o.decision === 'reject',
    message: typeof o.message === 'string' ? o.message : '',
    logout: o.should_logout_user === true,
  };
}

const endSessions = (tx: Tx, userId: string) => tx.query('delete from auth.sessions where user_id = $1', [userId]);

/**
 * After a known user's password was checked: the hook's rejection (400 invalid_credentials with its
 * message), having ended the user's sessions if it asked to; undefined to go on as the check says.
 * Runs in its own transaction, as GoTrue's: the sign-out stays whatever the sign-in does next.
 */
export async function passwordVerificationHook(
  deps: HookDeps,
  userId: string,
  valid: boolean,
  ip: string | undefined,
): Promise<ApiError | undefined> {
  if (!deps.hooks.enabled('passwordVerificationAttempt')) return undefined;
  const verdict = decision(await deps.hooks.run('passwordVerificationAttempt', { user_id: userId, valid }, { ip }));
  if (!verdict.reject) return undefined;
  if (verdict.logout) await deps.db.transaction((tx) => endSessions(tx, userId));
  return errors.passwordVerificationRejected(verdict.message || PASSWORD_REJECTED);
}

export interface MfaAttempt {
  readonly userId: string;
  readonly factorId: string;
  readonly factorType: string;
  readonly valid: boolean;
}

/**
 * After an MFA code was checked, within the verification's transaction: a rejection ends every
 * session of the user, as on GoTrue, and is returned (403 mfa_verification_rejected) so that the
 * caller commits the sign-out before answering.
 */
export async function mfaVerificationHook(
  deps: HookDeps,
  tx: Tx,
  attempt: MfaAttempt,
  ip: string | undefined,
): Promise<ApiError | undefined> {
  if (!deps.hooks.enabled('mfaVerificationAttempt')) return undefined;
  const input = {
    user_id: attempt.userId,
    factor_id: attempt.factorId,
    factor_type: attempt.factorType,
    valid: attempt.valid,
  };
  const verdict = decision(await deps.hooks.run('mfaVerificationAttempt', input, { tx, ip }));
  if (!verdict.reject) return undefined;
  await endSessions(tx, attempt.userId);
  return errors.mfaVerificationRejected(verdict.message || MFA_REJECTED);
}

/** GoTrue's mailer.EmailData, the `email_data` of the send_email hook. */
export interface EmailData {
  readonly token: string;
  readonly token_hash: string;
  readonly redirect_to: string;
  readonly email_action_type: string;
  readonly site_url: string;
  readonly token_new: string;
  readonly token_hash_new: string;
}

/** Hands an auth mail to the send_email hook instead of the mailer. */
export async function sendEmailHook(
  deps: HookDeps,
  user: Record<string, unknown>,
  emailData: EmailData,
  call?: HookCall,
): Promise<void> {
  outputObject(await deps.hooks.run('sendEmail', { user, email_data: emailData }, call));
}

/** GoTrue's `sms` of the send_sms hook. */
export interface SmsData {
  readonly otp: string;
  readonly sms_type?: string;
  readonly phone?: string;
}

/**
 * For the SMS path: when `hooks.enabled('sendSms')`, an OTP goes to the send_sms hook
 * (`{user, sms: {otp, sms_type, phone}}`) instead of the SMS provider; a failing hook throws
 * GoTrue's error, which should roll back what was made for the message.
 */
export async function sendSmsHook(
  deps: HookDeps,
  user: Record<string, unknown>,
  sms: SmsData,
  call?: HookCall,
): Promise<void> {
  outputObject(await deps.hooks.run('sendSms', { user, sms }, call));
}
