/**
 * A loopback HTTP server that speaks the SMS providers' documented APIs (Twilio Messages and
 * Verify, MessageBird, Vonage, Textlocal), keeps every request it gets (path, Authorization
 * header, form fields) and answers with each API's documented JSON, or as a test tells it to
 * (an outage, garbage, no answer at all).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SmsRequest {
  readonly path: string;
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  readonly form: Record<string, string>;
}

/** What to answer: a status and a JSON body (or raw text), or `hang` (never answer). */
export type SmsAnswer = { status: number; json?: unknown; text?: string } | 'hang';

export interface SmsProviderServer {
  readonly url: string;
  readonly requests: SmsRequest[];
  /** Answers the next requests with `answer` instead of the documented success (until reset). */
  answerWith(answer: ((req: SmsRequest) => SmsAnswer) | undefined): void;
  /** The code in the last message to `to` (digits, no "+"), waiting for it to arrive. */
  codeFor(to: string, since?: number): Promise<string>;
  close(): Promise<void>;
}

let sequence = 0;

/** The documented success answer of each API. */
function documented(req: SmsRequest, verifyCodes: Map<string, string>): SmsAnswer {
  const id = `id${++sequence}`;
  if (/\/Accounts\/[^/]+\/Messages\.json$/.test(req.path))
    return { status: 201, json: { sid: `SM${id}`, status: 'queued', to: req.form.To, body: req.form.Body } };
  if (req.path.endsWith('/Verifications')) {
    // Twilio Verify makes its own code; the test reads it from here.
    verifyCodes.set(req.form.To ?? '', String(100000 + sequence).slice(-6));
    return { status: 201, json: { sid: `VE${id}`, status: 'pending', to: req.form.To, channel: req.form.Channel } };
  }
  if (req.path.endsWith('/VerificationCheck')) {
    const expected = verifyCodes.get(req.form.To ?? '');
    if (expected === undefined) return { status: 404, json: { code: 20404, message: 'not found', more_info: 'x' } };
    const ok = expected === req.form.Code;
    if (ok) verifyCodes.delete(req.form.To ?? '');
    return { status: 200, json: { status: ok ? 'approved' : 'pending', valid: ok, to: req.form.To } };
  }
  if (req.path.endsWith('/messages'))
    return { status: 201, json: { id, recipients: { totalCount: 1, totalSentCount: 1 } } };
  if (req.path.endsWith('/sms/json'))
    return {
      status: 200,
      json: { 'message-count': '1', messages: [{ to: req.form.to, 'message-id': id, status: '0' }] },
    };
  if (req.path.endsWith('/send')) return { status: 200, json: { status: 'success', messages: [{ id, recipient: 1 }] } };
  return { status: 404, json: { message: 'no such API' } };
}

/** The recipient of a request, whichever API it is for, as digits. */
function recipient(req: SmsRequest): string {
  const raw = req.form.To ?? req.form.to ?? req.form.recipients ?? req.form.numbers ?? '';
  return raw.replace(/^whatsapp:/, '').replace(/^\+/, '');
}

export async function startSmsProviderServer(): Promise<SmsProviderServer> {
  const requests: SmsRequest[] = [];
  const verifyCodes = new Map<string, string>();
  let override: ((req: SmsRequest) => SmsAnswer) | undefined;
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((incoming, res) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const req: SmsRequest = {
        path: incoming.url ?? '',
        authorization: incoming.headers.authorization,
        contentType: incoming.headers['content-type'],
        form: Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))),
      };
      requests.push(req);
      const answer = override?.(req) ?? documented(req, verifyCodes);
      if (answer === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(answer.status, { 'content-type': answer.text === undefined ? 'application/json' : 'text/html' });
      res.end(answer.text ?? JSON.stringify(answer.json ?? {}));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    answerWith(fn) {
      override = fn;
    },
    async codeFor(to, since = 0) {
      for (let i = 0; i < 200; i++) {
        const req = requests
          .slice(since)
          .reverse()
          .find((r) => recipient(r) === to);
        if (req) {
          if (req.path.endsWith('/Verifications')) return verifyCodes.get(`+${to}`) ?? '';
          const body = req.form.Body ?? req.form.body ?? req.form.text ?? req.form.message ?? '';
          const code = /\d{6,10}/.exec(body)?.[0];
          if (code) return code;
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`no message to ${to}`);
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
