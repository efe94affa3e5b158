/** The SmsProvider seam: a text message (SMS or WhatsApp) handed to an SMS gateway's HTTP API. */

export type SmsChannel = 'sms' | 'whatsapp';

export interface SmsMessage {
  /** E.164 digits without the leading `+` (GoTrue's stored form): `15555550100`. */
  readonly to: string;
  /** The rendered text (the template with the code in it). */
  readonly body: string;
  readonly channel: SmsChannel;
  /** The code itself: Twilio's WhatsApp content templates take it apart from the text. */
  readonly code: string;
}

export interface SmsProvider {
  /** GoTrue's name for it, as `GET /settings` reports it in `sms_provider`. */
  readonly name: string;
  /** Whether the provider can carry `channel` (only Twilio's two APIs carry WhatsApp, as on GoTrue). */
  supports(channel: SmsChannel): boolean;
  /** Resolves to the provider's message id once it accepted the message; throws SmsSendError otherwise. */
  send(message: SmsMessage): Promise<string>;
  /**
   * Twilio Verify sends codes of its own and checks them itself: true when `code` is right for `to`.
   * Undefined for providers that carry the code Trellis made.
   */
  readonly checkCode?: (to: string, code: string) => Promise<boolean>;
}

/** A provider refused, failed or answered something unreadable; the message says what, without secrets. */
export class SmsSendError extends Error {
  override readonly name = 'SmsSendError';
}

/** What each provider needs; from config (src/config.ts), never read here. */
export interface SmsSettings {
  readonly provider: 'twilio' | 'twilio_verify' | 'messagebird' | 'textlocal' | 'vonage' | '';
  /** Replaces the provider's API base URL (a test's loopback server, a regional endpoint). */
  readonly apiUrl: string | undefined;
  readonly timeoutMs: number;
  readonly twilio: {
    readonly accountSid: string;
    readonly authToken: string;
    readonly messageServiceSid: string;
    readonly contentSid: string;
  };
  readonly twilioVerify: {
    readonly accountSid: string;
    readonly authToken: string;
    readonly messageServiceSid: string;
  };
  readonly messagebird: { readonly accessKey: string; readonly originator: string };
  readonly textlocal: { readonly apiKey: string; readonly sender: string };
  readonly vonage: { readonly apiKey: string; readonly apiSecret: string; readonly from: string };
}
