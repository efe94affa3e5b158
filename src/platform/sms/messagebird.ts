/**
 * MessageBird's SMS API, as GoTrue calls it (internal/api/sms_provider/messagebird.go): POST
 * {base}/messages with `Authorization: AccessKey <key>` and form fields originator, body,
 * recipients (digits), type=sms, datacoding=unicode. Sent when recipients.totalSentCount > 0.
 */
import { base, field, postForm, text } from './post.js';
import { SmsSendError, type SmsChannel, type SmsMessage, type SmsProvider, type SmsSettings } from './sms.js';

const MESSAGEBIRD_API = 'https://rest.messagebird.com';

export function createMessagebirdProvider(settings: SmsSettings): SmsProvider {
  const { accessKey, originator } = settings.messagebird;
  const url = `${base(settings.apiUrl, MESSAGEBIRD_API)}/messages`;
  return {
    name: 'messagebird',
    supports: (channel: SmsChannel) => channel === 'sms',
    async send(message: SmsMessage) {
      const answer = await postForm(
        url,
        { originator, body: message.body, recipients: message.to, type: 'sms', datacoding: 'unicode' },
        { headers: { authorization: `AccessKey ${accessKey}` }, timeoutMs: settings.timeoutMs },
      );
      if (answer.status >= 400) {
        const errors = field(answer.json, 'errors');
        const first = Array.isArray(errors) ? (errors[0] as unknown) : undefined;
        const description = text(field(first, 'description'));
        throw new SmsSendError(description || `MessageBird answered HTTP ${answer.status}`);
      }
      const sent = field(field(answer.json, 'recipients'), 'totalSentCount');
      if (typeof sent !== 'number' || sent === 0) throw new SmsSendError('messagebird error: total sent count is 0');
      return text(field(answer.json, 'id'));
    },
  };
}
