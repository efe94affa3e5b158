/**
 * Vonage's (Nexmo's) SMS API, as GoTrue calls it (internal/api/sms_provider/vonage.go): POST
 * {base}/sms/json with form fields from, to (digits), text, api_key, api_secret (the credentials
 * travel in the body), and type=unicode for text that is not ASCII. Sent when messages[0].status
 * is "0".
 */
import { base, field, postForm, text } from './post.js';
import { SmsSendError, type SmsChannel, type SmsMessage, type SmsProvider, type SmsSettings } from './sms.js';

const VONAGE_API = 'https://rest.nexmo.com';

export function createVonageProvider(settings: SmsSettings): SmsProvider {
  const { apiKey, apiSecret, from } = settings.vonage;
  const url = `${base(settings.apiUrl, VONAGE_API)}/sms/json`;
  return {
    name: 'vonage',
    supports: (channel: SmsChannel) => channel === 'sms',
    async send(message: SmsMessage) {
      const fields: Record<string, string> = {
        from,
        to: message.to,
        text: message.body,
        api_key: apiKey,
        api_secret: apiSecret,
      };
      if (!/^[\x00-\x7f]*$/.test(message.body)) fields.type = 'unicode';
      const answer = await postForm(url, fields, { timeoutMs: settings.timeoutMs });
      const messages = field(answer.json, 'messages');
      const first = Array.isArray(messages) ? (messages[0] as unknown) : undefined;
      if (first === undefined) throw new SmsSendError('vonage error: Internal Error');
      const id = text(field(first, 'message-id'));
      const status = text(field(first, 'status'));
      if (status !== '0')
        throw new SmsSendError(
          `vonage error: ${text(field(first, 'error-text'))} (status: ${status}) for message ${id}`,
        );
      return id;
    },
  };
}
