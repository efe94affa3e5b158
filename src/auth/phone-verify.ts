/**
 * verifyOtp({ phone, token, type: 'sms' | 'phone_change' }): GoTrue's verify for texted codes. A
 * test number's fixed code always works; with Twilio Verify, Twilio checks the code; otherwise the
 * stored hash does, and wrong tries count against the code (otp-codes.ts). Wrong, used and
 * expired codes get the same 403 `otp_expired`.
 */
import type { Tx } from '../db/index.js';
import type { AuthContext } from './context.js';
import { errors } from './errors.js';
import { codeMatches, countWrongCode } from './otp-codes.js';
import { confirmPhone, dropForeignCredentials, findUserByPhone, findUserByPhoneChange } from './phone-users.js';
import { requirePhone, testCodeFor, type PhoneCodeType } from './phone.js';
import { startSession, type Client, type SessionResponse } from './sessions.js';
import { findUserById, isBanned, type UserRow } from './users.js';

interface PhoneTokenRow {
  id: string;
  user_id: string;
  code_hash: string;
  drops_password: boolean;
  expired: boolean;
}

async function findPhoneToken(tx: Tx, type: PhoneCodeType, phone: string): Promise<PhoneTokenRow | undefined> {
  const result = await tx.query<PhoneTokenRow>(
    `select id, user_id, code_hash, drops_password, expires_at < now() as expired from auth.one_time_tokens
     where token_type = $1 and relates_to = $2 order by created_at desc limit 1 for update`,
    [type, phone],
  );
  return result.rows[0];
}

export interface PhoneVerifyRequest {
  readonly type: PhoneCodeType;
  readonly phone: string | undefined;
  readonly token: string | undefined;
  readonly tokenHash: string | undefined;
}

export async function verifyPhoneCode(
  ctx: AuthContext,
  request: PhoneVerifyRequest,
  client: Client,
  maxAttempts: number,
): Promise<SessionResponse> {
  if ((request.token === undefined) === (request.tokenHash === undefined))
    throw errors.validation('Verify requires either a token or a token hash');
  // A texted code has no link: a token hash names nothing.
  if (request.token === undefined) throw errors.otpExpired();
  const phone = requirePhone(request.phone);
  const code = request.token.trim();
  const testCode = testCodeFor(ctx, phone);
  let accepted = testCode !== undefined && code === testCode;
  if (!accepted && ctx.sms?.checkCode) {
    const pending = await ctx.db.transaction((tx) => findPhoneToken(tx, request.type, phone));
    if (!pending) throw errors.otpExpired();
    // Twilio keeps (and counts) its own codes; an outage there is a refusal, as on GoTrue.
    accepted = await ctx.sms.checkCode(phone, code).catch((err: unknown) => {
      ctx.log.warn({ err }, 'Twilio Verify could not check a code');
      return false;
    });
    if (!accepted) throw errors.otpExpired();
  }
  const session = await ctx.db.transaction(async (tx) => {
    const row = await findPhoneToken(tx, request.type, phone);
    let user: UserRow | undefined;
    if (row) {
      if (!accepted && !codeMatches(row.code_hash, phone, code)) {
        // Returned, not thrown, so that the count of wrong tries commits.
        await countWrongCode(tx, [row.id], maxAttempts);
        return undefined;
      }
      if (row.expired && !accepted) return undefined;
      user = await findUserById(tx, row.user_id, true);
    } else if (accepted) {
      // A test number's code works without a code sent (GoTrue looks the user up by number).
      user =
        request.type === 'sms' ? await findUserByPhone(tx, phone, true) : await findUserByPhoneChange(tx, phone, true);
    }
    if (!user) return undefined;
    if (isBanned(user)) throw errors.userBannedForbidden();
    if (row) await tx.query('delete from auth.one_time_tokens where id = $1', [row.id]);
    if (request.type === 'phone_change') {
      const taken = await findUserByPhone(tx, phone);
      if (taken && taken.id !== user.id) throw errors.phoneExists();
    }
    // Whoever chose the password (and metadata) of a pending account never proved the number. When
    // its owner proves it with a code someone else asked for (a sign-in code, a sign-up with
    // another password), those go, or an attacker who signed up first would share the account.
    const foreign = request.type === 'sms' && !user.phone_confirmed_at && (!row || row.drops_password);
    if (foreign) user = await dropForeignCredentials(tx, user);
    const confirmed = await confirmPhone(tx, user, phone);
    return startSession(tx, ctx.settings, confirmed, 'otp', client);
  });
  if (!session) throw errors.otpExpired();
  return session;
}
