/**
 * A JSON POST over node:http with kept-alive sockets: about a third of fetch's CPU per request, so
 * a load generator that shares the machine's cores takes less from the server it measures.
 */
import http from 'node:http';

export interface JsonAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** A poster bound to `agent` and the given headers; answers with the status and the parsed body. */
export function jsonPoster(agent: http.Agent, headers: Record<string, string>) {
  return (url: string, body: unknown) =>
    new Promise<JsonAnswer>((resolve, reject) => {
      const payload = JSON.stringify(body);
      const req = http.request(
        url,
        {
          method: 'POST',
          agent,
          headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as unknown) : undefined });
            } catch {
              reject(new Error(`${url}: ${res.statusCode} answered no JSON: ${text.slice(0, 200)}`));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
}
