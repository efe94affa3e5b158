/**
 * The Mailer seam: outgoing mail (auth's Mailer), the providers that hand it over (MailProvider:
 * SMTP, the HTTP APIs, the outbox) and the router over them (MailRouter).
 */

export interface Mail {
  readonly to: string;
  readonly subject: string;
  readonly html: string;
  readonly text: string;
  /** What the mail is for (`confirmation`, `magic_link`, …): logged and kept with an outbox row. */
  readonly kind: string;
}

export interface Mailer {
  /** Resolves once the mail is handed over (SMTP server accepted it, or the outbox row is written). */
  send(mail: Mail): Promise<void>;
  close(): Promise<void>;
}

/** One mail provider of the router: hands a mail over and says how it went, as a value. */

export interface OutgoingMail {
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly html: string;
  readonly text: string;
  /** What it is (a template's name, `confirmation`, …): kept with an outbox row. */
  readonly kind?: string;
}

/**
 * `sent`: accepted. `down`: the provider failed (5xx, timeout, network, refused credentials, 429):
 * it is marked unhealthy and the next one is tried. `rejected`: the provider refused this mail (a
 * 4xx about its content or address): another provider would refuse it too, so it fails.
 */
export type SendOutcome =
  | { readonly kind: 'sent'; readonly messageId: string | undefined }
  | { readonly kind: 'down'; readonly error: string }
  | { readonly kind: 'rejected'; readonly error: string };

export interface MailProvider {
  readonly name: string;
  readonly kind: string;
  /** Its own From address (some providers accept only verified senders); else the mail's. */
  readonly from?: string | undefined;
  readonly dailyQuota: number | undefined;
  readonly monthlyQuota: number | undefined;
  send(mail: OutgoingMail): Promise<SendOutcome>;
  close(): Promise<void>;
}

export type RouteOutcome =
  | { readonly kind: 'sent'; readonly provider: string; readonly messageId: string | undefined }
  | { readonly kind: 'rejected'; readonly provider: string; readonly error: string }
  /** Every provider with room failed or is resting: try again, not before `retryAt` (the first rest's end). */
  | { readonly kind: 'down'; readonly error: string; readonly retryAt: Date }
  /** Every provider's quota is spent: nothing before `until`. */
  | { readonly kind: 'deferred'; readonly until: Date; readonly error: string };

export interface MailRouter {
  readonly providers: readonly MailProvider[];
  send(mail: OutgoingMail): Promise<RouteOutcome>;
  close(): Promise<void>;
}
