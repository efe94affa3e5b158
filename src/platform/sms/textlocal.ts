/**
 * Textlocal's send API, as GoTrue calls it (internal/api/sms_provider/textlocal.go): POST
 * {base}/send with form fields sender, apikey, message, numbers (digits). Sent when status is
 * "success"; error 80 means the text does not match a template registered with Textlocal.
 */
import { base, field, postForm, text } from './post.js';
import { SmsSendError, type SmsChannel, type SmsMessage, type SmsProvider, type SmsSettings } from './sms.js';

const TEXTLOCAL_API = 'https://api.textlocal.in';
const TEMPLATE_MISMATCH = 80;

export function createTextlocalProvider(settings: SmsSettings): SmsProvider {
  const { apiKey, sender } = settings.textlocal;
  const url = `${base(settings.apiUrl, TEXTLOCAL_API)}/send`;
  return {
    name: 'textlocal',
    supports: (channel: SmsChannel) => channel === 'sms',
    async send(message: SmsMessage) {
      const answer = await postForm(
        url,
        { sender, apikey: apiKey, message: message.body, numbers: message.to },
        { timeoutMs: settings.timeoutMs },
      );
      const messages = field(answer.json, 'messages');
      const id = Array.isArray(messages) ? text(field(messages[0] as unknown, 'id')) : '';
      if (field(answer.json, 'status') === 'success') return id;
      const errors = field(answer.json, 'errors');
      const first = Array.isArray(errors) ? (errors[0] as unknown) : undefined;
      if (first === undefined) throw new SmsSendError(`Textlocal answered HTTP ${answer.status} without a status`);
      const code = field(first, 'code');
      const what = `textlocal error: ${text(field(first, 'message'))} (code: ${text(code)})`;
      throw new SmsSendError(code === TEMPLATE_MISMATCH ? `${what} template message: ${message.body}` : what);
    },
  };
}
