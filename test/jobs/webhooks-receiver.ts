/** A local HTTP receiver for the webhook tests: records each request, answers as the test says. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export type Answer = (request: Received, res: http.ServerResponse) => void;

export interface Receiver {
  readonly url: string;
  readonly received: Received[];
  /** How the next requests are answered (default: 200 `{"ok":true}`). */
  answer: Answer;
  close(): Promise<void>;
}

export const okAnswer: Answer = (_request, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'x-reply': 'yes' });
  res.end('{"ok":true}');
};

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const receiver = {
    url: '',
    received,
    answer: okAnswer,
    close: async () => undefined,
  } as Receiver;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      received.push(request);
      receiver.answer(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** A port on loopback where nothing listens (taken, then given back). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
