/**
 * A loopback HTTP server speaking one mail provider's documented send API (Resend, SendGrid,
 * Mailgun, Postmark, Brevo): it checks the path and the auth header the way the real API does
 * (a wrong key is a 401), keeps every request (headers and parsed body) and answers with the
 * API's documented success, or as a test tells it to (an outage, a refusal).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ApiKind = 'resend' | 'sendgrid' | 'mailgun' | 'postmark' | 'brevo';

export interface ApiRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  /** JSON bodies parsed; Mailgun's form as an object of fields. */
  readonly body: Record<string, unknown>;
}

export interface MailApiServer {
  readonly kind: ApiKind;
  /** The base URL to configure (the provider's `url`). */
  readonly url: string;
  readonly apiKey: string;
  readonly domain: string;
  /** Requests that passed the auth check and were answered with a success. */
  readonly accepted: ApiRequest[];
  /** Every request, accepted or not. */
  readonly requests: ApiRequest[];
  /** Answer the next requests with this status (and body) instead of the documented success; undefined: back to success. */
  answerWith(status: number | undefined, body?: unknown): void;
  /** The recipient of an accepted request, whatever the API's body shape. */
  recipientOf(req: ApiRequest): string | undefined;
  /** Waits for an accepted request to `to`. */
  next(to: string, since?: number): Promise<ApiRequest>;
  close(): Promise<void>;
}

const PATH: Record<ApiKind, (domain: string) => string> = {
  resend: () => '/emails',
  sendgrid: () => '/v3/mail/send',
  mailgun: (domain) => `/v3/${domain}/messages`,
  postmark: () => '/email',
  brevo: () => '/v3/smtp/email',
};

function authorized(kind: ApiKind, headers: http.IncomingHttpHeaders, key: string): boolean {
  switch (kind) {
    case 'resend':
    case 'sendgrid':
      return headers.authorization === `Bearer ${key}`;
    case 'mailgun':
      return headers.authorization === `Basic ${Buffer.from(`api:${key}`).toString('base64')}`;
    case 'postmark':
      return headers['x-postmark-server-token'] === key;
    case 'brevo':
      return headers['api-key'] === key;
  }
}

let sequence = 0;

function success(kind: ApiKind, req: ApiRequest): { status: number; body?: unknown; headers?: Record<string, string> } {
  const id = `msg-${++sequence}`;
  switch (kind) {
    case 'resend':
      return { status: 200, body: { id } };
    case 'sendgrid':
      return { status: 202, headers: { 'x-message-id': id } };
    case 'mailgun':
      return { status: 200, body: { id: `<${id}@mg.test>`, message: 'Queued. Thank you.' } };
    case 'postmark':
      return {
        status: 200,
        body: { To: req.body.To, SubmittedAt: new Date().toISOString(), MessageID: id, ErrorCode: 0, Message: 'OK' },
      };
    case 'brevo':
      return { status: 201, body: { messageId: `<${id}@brevo.test>` } };
  }
}

export function recipientOf(kind: ApiKind, body: Record<string, unknown>): string | undefined {
  const b = body as Record<string, any>;
  switch (kind) {
    case 'resend':
      return b.to?.[0];
    case 'sendgrid':
      return b.personalizations?.[0]?.to?.[0]?.email;
    case 'mailgun':
      return b.to;
    case 'postmark':
      return b.To;
    case 'brevo':
      return b.to?.[0]?.email;
  }
}

export async function startMailApi(
  kind: ApiKind,
  options: { apiKey?: string; domain?: string } = {},
): Promise<MailApiServer> {
  const apiKey = options.apiKey ?? `key-${kind}-${Math.random().toString(36).slice(2)}`;
  const domain = options.domain ?? 'mg.example.test';
  const requests: ApiRequest[] = [];
  const accepted: ApiRequest[] = [];
  let forced: { status: number; body?: unknown } | undefined;
  const server = http.createServer((incoming, res) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (c: Buffer) => chunks.push(c));
    incoming.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const type = incoming.headers['content-type'] ?? '';
      let body: Record<string, unknown> = {};
      try {
        body = type.startsWith('application/x-www-form-urlencoded')
          ? Object.fromEntries(new URLSearchParams(text))
          : (JSON.parse(text) as Record<string, unknown>);
      } catch {
        body = { unparsed: text };
      }
      const req: ApiRequest = {
        method: incoming.method ?? '',
        path: incoming.url ?? '',
        headers: incoming.headers,
        body,
      };
      requests.push(req);
      const answer = (status: number, json?: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { ...(json === undefined ? {} : { 'content-type': 'application/json' }), ...headers });
        res.end(json === undefined ? '' : JSON.stringify(json));
      };
      if (req.method !== 'POST' || req.path !== PATH[kind](domain)) return answer(404, { message: 'not found' });
      if (!authorized(kind, incoming.headers, apiKey)) return answer(401, { message: 'bad credentials' });
      if (forced) return answer(forced.status, forced.body ?? { message: `forced ${forced.status}` });
      accepted.push(req);
      const ok = success(kind, req);
      answer(ok.status, ok.body, ok.headers);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    kind,
    url,
    apiKey,
    domain,
    accepted,
    requests,
    answerWith(status, body) {
      forced = status === undefined ? undefined : { status, body };
    },
    recipientOf: (req) => recipientOf(kind, req.body),
    async next(to, since = 0) {
      for (let i = 0; i < 400; i++) {
        const found = accepted.slice(since).find((r) => recipientOf(kind, r.body) === to);
        if (found) return found;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`no ${kind} request to ${to} within 10 s`);
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
