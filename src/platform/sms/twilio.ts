/**
 * Twilio's Programmable Messaging API, called as GoTrue calls it (internal/api/sms_provider/twilio.go):
 * POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP basic auth AccountSid:AuthToken,
 * form fields To (+digits), Channel, From (the message service SID or number), Body. WhatsApp goes
 * to `whatsapp:+digits`, from `whatsapp:<number>` when the sender is a number, and with a content
 * template (ContentSid + ContentVariables {"1": code}) instead of Body when one is configured.
 */
import { base, basicAuth, field, postForm, text, twilioError } from './post.js';
import { SmsSendError, type SmsChannel, type SmsMessage, type SmsProvider, type SmsSettings } from './sms.js';

const TWILIO_API = 'https://api.twilio.com';
// GoTrue's isPhoneNumber: a sender that is a number (not a service SID) gets the channel prefix too.
const PHONE_NUMBER = /^[1-9][0-9]{1,14}$/;

export function createTwilioProvider(settings: SmsSettings): SmsProvider {
  const { accountSid, authToken, messageServiceSid, contentSid } = settings.twilio;
  const url = `${base(settings.apiUrl, TWILIO_API)}/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`;
  return {
    name: 'twilio',
    supports: (channel: SmsChannel) => channel === 'sms' || channel === 'whatsapp',
    async send(message: SmsMessage) {
      let fields: Record<string, string>;
      if (message.channel === 'whatsapp') {
        const sender = PHONE_NUMBER.test(messageServiceSid.replace(/^\+/, '').replaceAll(' ', ''))
          ? `whatsapp:${messageServiceSid}`
          : messageServiceSid;
        fields = { To: `whatsapp:+${message.to}`, Channel: 'whatsapp', From: sender };
        if (contentSid !== '') {
          fields.ContentSid = contentSid;
          fields.ContentVariables = JSON.stringify({ 1: message.code });
        } else fields.Body = message.body;
      } else fields = { To: `+${message.to}`, Channel: 'sms', From: messageServiceSid, Body: message.body };
      const answer = await postForm(url, fields, {
        headers: { authorization: basicAuth(accountSid, authToken) },
        timeoutMs: settings.timeoutMs,
      });
      return readTwilioMessage(answer.status, answer.json);
    },
  };
}

function readTwilioMessage(status: number, json: unknown): string {
  if (status !== 200 && status !== 201) throw twilioError('Twilio', status, json);
  const sid = field(json, 'sid');
  if (typeof sid !== 'string') throw new SmsSendError(`Twilio answered HTTP ${status} with no message sid`);
  const state = field(json, 'status');
  if (state === 'failed' || state === 'undelivered')
    throw new SmsSendError(
      `twilio error: ${text(field(json, 'error_message'))} ${text(field(json, 'error_code'))} for message ${sid}`,
    );
  return sid;
}
