/**
 * Twilio Verify, as GoTrue calls it (internal/api/sms_provider/twilio_verify.go): Twilio makes and
 * checks the code. POST {base}/v2/Services/{ServiceSid}/Verifications (To, Channel) sends it;
 * POST …/VerificationCheck (To, Code) checks it: right when the answer says status "approved" and
 * valid true. Basic auth AccountSid:AuthToken.
 */
import { base, basicAuth, field, postForm, twilioError } from './post.js';
import { SmsSendError, type SmsChannel, type SmsMessage, type SmsProvider, type SmsSettings } from './sms.js';

const VERIFY_API = 'https://verify.twilio.com';

export function createTwilioVerifyProvider(settings: SmsSettings): SmsProvider {
  const { accountSid, authToken, messageServiceSid } = settings.twilioVerify;
  const service = `${base(settings.apiUrl, VERIFY_API)}/v2/Services/${encodeURIComponent(messageServiceSid)}`;
  const options = { headers: { authorization: basicAuth(accountSid, authToken) }, timeoutMs: settings.timeoutMs };
  return {
    name: 'twilio_verify',
    supports: (channel: SmsChannel) => channel === 'sms' || channel === 'whatsapp',
    async send(message: SmsMessage) {
      const answer = await postForm(
        `${service}/Verifications`,
        { To: `+${message.to}`, Channel: message.channel },
        options,
      );
      if (answer.status !== 200 && answer.status !== 201)
        throw twilioError('Twilio Verify', answer.status, answer.json);
      const sid = field(answer.json, 'sid');
      if (typeof sid !== 'string')
        throw new SmsSendError(`Twilio Verify answered HTTP ${answer.status} with no verification sid`);
      return sid;
    },
    async checkCode(to: string, code: string) {
      const answer = await postForm(`${service}/VerificationCheck`, { To: `+${to}`, Code: code }, options);
      // Twilio answers 404 for a number with no pending verification: a wrong code, not an outage.
      if (answer.status === 404) return false;
      if (answer.status !== 200 && answer.status !== 201)
        throw twilioError('Twilio Verify', answer.status, answer.json);
      return field(answer.json, 'status') === 'approved' && field(answer.json, 'valid') === true;
    },
  };
}
