/**
 * Texted codes: phone numbers as GoTrue takes them (E.164 digits, stored without "+"), test numbers,
 * the budgets a text is counted against, and the one function that hands a text to the provider.
 * A code is prepared within the request's transaction (stored hashed, as an emailed one: see
 * otp-codes.ts) and sent after commit, so a slow provider holds no database connection; when the
 * send fails, what was made for it is removed again.
 */
import { SmsSendError, type SmsChannel, type SmsMessage } from '../platform/sms/index.js';
import type { Tx } from '../db/index.js';
import type { AuthContext } from './context.js';
import { randomCode } from './crypto.js';
import { errors } from './errors.js';
import type { AuthLimits } from './limits.js';
import { storeCode } from './otp-codes.js';
import { sendSmsHook } from './hooks-calls.js';
import { updateUser, userJson, type UserRow } from './users.js';
import { ApiError } from '../errors.js';

/** GoTrue's e164Format, after its formatPhoneNumber: 2 to 15 digits, no leading 0. */
const E164 = /^[1-9][0-9]{1,14}$/;

/** A number as GoTrue keeps it: without the leading "+" and spaces. */
export function formatPhone(raw: string): string {
  return raw.replace(/^\+/, '').replaceAll(' ', '');
}

/** The number in stored form; 400 "Invalid phone number format (E.164 required)" otherwise. */
export function requirePhone(raw: string | undefined): string {
  const phone = formatPhone(raw ?? '');
  if (!E164.test(phone)) throw errors.invalidPhone();
  return phone;
}

/** The channel a code goes by: sms unless asked; WhatsApp only through a provider that carries it. */
export function parseChannel(ctx: AuthContext, raw: string | undefined): SmsChannel {
  if (raw === undefined || raw === '' || raw === 'sms') return 'sms';
  if (raw === 'whatsapp' && ctx.sms?.supports('whatsapp')) return 'whatsapp';
  throw errors.invalidChannel();
}

/** The fixed code of a test number (AUTH_SMS_TEST_OTP), while test numbers are valid. */
export function testCodeFor(ctx: AuthContext, phone: string, now = new Date()): string | undefined {
  const { testOtp, testOtpValidUntil } = ctx.config.auth.sms;
  if (testOtpValidUntil && now >= testOtpValidUntil) return undefined;
  return Object.hasOwn(testOtp, phone) ? testOtp[phone] : undefined;
}

/** GoTrue's SMS template: Go template text whose one variable is `.Code`. */
export function renderSms(template: string, code: string): string {
  return template.replace(/\{\{\s*\.Code\s*\}\}/g, code);
}

export type PhoneCodeType = 'sms' | 'phone_change';
/** GoTrue's name of each kind in "Error sending <kind> OTP to provider". */
const KIND_NAME: Record<PhoneCodeType, string> = { sms: 'confirmation', phone_change: 'phone_change' };

export interface PreparedSms {
  /** The user with confirmation_sent_at (or phone_change and phone_change_sent_at) set. */
  readonly user: UserRow;
  readonly type: PhoneCodeType;
  readonly message: SmsMessage;
  /** A test number: nothing is sent. */
  readonly test: boolean;
  /** The stored code's hash: a failed send removes the code only while it is still this one. */
  readonly codeHash: string;
}

/**
 * Within `tx`: counts the text against its budgets (one per AUTH_SMS_MAX_FREQUENCY, then
 * AUTH_RATE_LIMIT_SMS_SENT for the server; test numbers only the first, as on GoTrue), stores
 * its code and notes the sending on the user. Over a budget, the error rolls back `tx`.
 */
export async function prepareSms(
  ctx: AuthContext,
  limits: AuthLimits,
  tx: Tx,
  request: { user: UserRow; type: PhoneCodeType; phone: string; channel: SmsChannel; dropsPassword?: boolean },
): Promise<PreparedSms> {
  const { user, type, phone, channel, dropsPassword } = request;
  const sms = ctx.config.auth.sms;
  if (sms.maxFrequency > 0) {
    const wait = await secondsBeforeNextCode(tx, user.id, type, sms.maxFrequency);
    if (wait > 0) throw errors.smsTooFrequent(wait);
  }
  const testCode = testCodeFor(ctx, phone);
  if (testCode === undefined) {
    if (!ctx.sms && !ctx.hooks.enabled('sendSms')) throw errors.noSmsProvider();
    await ctx.limit(limits.smsSent, 'server', errors.smsRateLimited);
  }
  const code = testCode ?? randomCode(sms.otpLength);
  const hash = await storeCode(tx, {
    userId: user.id,
    type,
    address: phone,
    code,
    expiresInS: sms.otpExpiry,
    ...(dropsPassword ? { dropsPassword } : {}),
  });
  const updated =
    type === 'sms'
      ? await updateUser(tx, user.id, 'confirmation_sent_at = now()', [])
      : await updateUser(tx, user.id, 'phone_change = $2, phone_change_sent_at = now()', [phone]);
  return {
    user: updated,
    type,
    message: { to: phone, body: renderSms(sms.template, code), channel, code },
    test: testCode !== undefined,
    codeHash: hash,
  };
}

/**
 * GoTrue's max_frequency, measured from the user's pending code of this kind (its row is what a
 * failed send removes, so a provider outage does not lock the number out, as GoTrue's rolled-back
 * sent-at does not). The row is locked: two requests at once cannot both pass.
 */
async function secondsBeforeNextCode(tx: Tx, userId: string, type: PhoneCodeType, maxFrequency: number) {
  const result = await tx.query<{ wait: number }>(
    `select ceil(extract(epoch from created_at + make_interval(secs => $3) - now()))::int as wait
     from auth.one_time_tokens where user_id = $1 and token_type = $2 for update`,
    [userId, type, maxFrequency],
  );
  return result.rows[0]?.wait ?? 0;
}

/**
 * The one place a text leaves Trellis: the configured provider gets it. (A send-SMS hook takes
 * over here.) Resolves to the provider's message id.
 */
export async function sendSms(
  ctx: AuthContext,
  message: SmsMessage,
  owner: { readonly user: UserRow; readonly smsType?: 'mfa' },
): Promise<string> {
  // GoTrue's send_sms hook takes the code instead of the provider; its refusal is the answer.
  if (ctx.hooks.enabled('sendSms')) {
    const sms = { otp: message.code, phone: message.to, ...(owner.smsType ? { sms_type: owner.smsType } : {}) };
    await sendSmsHook(ctx, await userJson(ctx.db, owner.user), sms);
    return '';
  }
  if (!ctx.sms) throw errors.noSmsProvider();
  return ctx.sms.send(message);
}

/**
 * Sends a prepared text, outside any transaction. When the provider fails, `undo` removes what was
 * made for it and the answer is GoTrue's 422 `sms_send_failed`. Resolves to the message id
 * ("test-otp" for a test number, as GoTrue answers).
 */
export async function deliverSms(ctx: AuthContext, prepared: PreparedSms, undo?: () => Promise<void>): Promise<string> {
  if (prepared.test) return 'test-otp';
  try {
    return await sendSms(ctx, prepared.message, { user: prepared.user });
  } catch (err) {
    ctx.log.error({ err, provider: ctx.sms?.name, kind: prepared.type }, 'sending an auth text message failed');
    await ctx.db
      .transaction(async (tx) => {
        // The code that never went out must not be left to guess at; a newer one that a resend
        // stored meanwhile (and that did go out) stays.
        const removed = await tx.query(
          'delete from auth.one_time_tokens where user_id = $1 and token_type = $2 and code_hash = $3',
          [prepared.user.id, prepared.type, prepared.codeHash],
        );
        if (prepared.type === 'phone_change' && removed.rowCount)
          await tx.query(`update auth.users set phone_change = '', phone_change_sent_at = null where id = $1`, [
            prepared.user.id,
          ]);
      })
      .catch((undoErr: unknown) => ctx.log.error({ err: undoErr }, 'removing the code of an unsent text failed'));
    if (undo)
      await undo().catch((undoErr: unknown) =>
        ctx.log.error({ err: undoErr }, 'removing the user of an unsent text failed'),
      );
    if (err instanceof ApiError) throw err; // a hook's own answer, or no provider at all
    const why = err instanceof SmsSendError ? err.message : 'unexpected error';
    throw errors.smsSendFailed(KIND_NAME[prepared.type], why);
  }
}

/** An `undo` for deliverSms: the user created for the text goes, so signing up again starts clean. */
export function forgetNewPhoneUser(ctx: AuthContext, userId: string): () => Promise<void> {
  return async () => {
    await ctx.db.transaction((tx) => tx.query('delete from auth.users where id = $1', [userId]));
  };
}
