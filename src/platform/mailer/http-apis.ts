/**
 * The HTTP APIs of the mail providers, as each one's documentation defines it: endpoint, auth
 * header, body, success status. Pure: a mail and a provider's settings in, a request out; a status
 * in, an outcome out. The I/O is http-provider.ts.
 */
import type { MailProviderConfig } from '../../config/mail-providers.js';
import type { OutgoingMail } from './mailer.js';

export interface ApiRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const DEFAULT_BASE: Readonly<Record<string, string>> = {
  resend: 'https://api.resend.com',
  sendgrid: 'https://api.sendgrid.com',
  mailgun: 'https://api.mailgun.net',
  postmark: 'https://api.postmarkapp.com',
  brevo: 'https://api.brevo.com',
};

/** The success statuses each API documents (anything else 2xx is taken as accepted too). */
export const SUCCESS_STATUS: Readonly<Record<string, number>> = {
  resend: 200,
  sendgrid: 202,
  mailgun: 200,
  postmark: 200,
  brevo: 201,
};

const json = (auth: Record<string, string>) => ({
  'content-type': 'application/json',
  accept: 'application/json',
  ...auth,
});

/** "Name <a@b>" → { email, name } for the APIs that take the sender as an object. */
export function splitAddress(address: string): { email: string; name?: string } {
  const m = /^\s*"?([^"<]*?)"?\s*<([^>]+)>\s*$/.exec(address);
  if (!m) return { email: address.trim() };
  const name = m[1]?.trim();
  return name ? { email: m[2]!.trim(), name } : { email: m[2]!.trim() };
}

export function buildApiRequest(provider: MailProviderConfig, mail: OutgoingMail): ApiRequest {
  const base = (provider.url ?? DEFAULT_BASE[provider.kind] ?? '').replace(/\/+$/, '');
  const key = provider.apiKey ?? '';
  switch (provider.kind) {
    case 'resend':
      // https://resend.com/docs/api-reference/emails/send-email
      return {
        url: `${base}/emails`,
        headers: json({ authorization: `Bearer ${key}` }),
        body: JSON.stringify({
          from: mail.from,
          to: [mail.to],
          subject: mail.subject,
          html: mail.html,
          text: mail.text,
        }),
      };
    case 'sendgrid':
      // https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send
      return {
        url: `${base}/v3/mail/send`,
        headers: json({ authorization: `Bearer ${key}` }),
        body: JSON.stringify({
          personalizations: [{ to: [{ email: mail.to }] }],
          from: splitAddress(mail.from),
          subject: mail.subject,
          content: [
            { type: 'text/plain', value: mail.text },
            { type: 'text/html', value: mail.html },
          ],
        }),
      };
    case 'mailgun':
      // https://documentation.mailgun.com/docs/mailgun/api-reference/openapi-final/tag/Messages/
      return {
        url: `${base}/v3/${encodeURIComponent(provider.domain ?? '')}/messages`,
        headers: {
          authorization: `Basic ${Buffer.from(`api:${key}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({
          from: mail.from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
        }).toString(),
      };
    case 'postmark':
      // https://postmarkapp.com/developer/api/email-api#send-a-single-email
      return {
        url: `${base}/email`,
        headers: json({ 'x-postmark-server-token': key }),
        body: JSON.stringify({
          From: mail.from,
          To: mail.to,
          Subject: mail.subject,
          HtmlBody: mail.html,
          TextBody: mail.text,
        }),
      };
    case 'brevo':
      // https://developers.brevo.com/reference/sendtransacemail
      return {
        url: `${base}/v3/smtp/email`,
        headers: json({ 'api-key': key }),
        body: JSON.stringify({
          sender: splitAddress(mail.from),
          to: [{ email: mail.to }],
          subject: mail.subject,
          htmlContent: mail.html,
          textContent: mail.text,
        }),
      };
    default:
      throw new Error(`${provider.kind} is not an HTTP mail API`);
  }
}

/**
 * What a status means: 2xx sent; 401/403 (credentials), 408, 429 (rate limited) and 5xx: the
 * provider is down for now, try the next; other 4xx: this mail is refused (bad address or content).
 */
export function classifyStatus(status: number): 'sent' | 'down' | 'rejected' {
  if (status >= 200 && status < 300) return 'sent';
  if (status === 401 || status === 403 || status === 408 || status === 429 || status >= 500) return 'down';
  return 'rejected';
}

/** The provider's message id, where its answer carries one. */
export function messageIdOf(kind: string, headers: Headers, body: unknown): string | undefined {
  const b = (body ?? {}) as Record<string, unknown>;
  const pick = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);
  switch (kind) {
    case 'resend':
    case 'mailgun':
      return pick(b.id);
    case 'sendgrid':
      return headers.get('x-message-id') ?? undefined;
    case 'postmark':
      return pick(b.MessageID);
    case 'brevo':
      return pick(b.messageId);
    default:
      return undefined;
  }
}
