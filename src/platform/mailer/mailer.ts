/** The Mailer seam: outgoing mail, handed to an SMTP server or kept in the outbox. */

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
