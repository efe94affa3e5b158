/**
 * A minimal Phoenix channel client (serializer 1.0.0, JSON objects) over `ws`: what the chat
 * scenario's virtual users speak, as realtime-js does, without a browser or supabase-js.
 */
import WebSocket from 'ws';

interface Frame {
  topic: string;
  event: string;
  payload: Record<string, unknown>;
  ref: string | null;
  join_ref?: string | null;
}

export type PhoenixHandler = (event: string, payload: Record<string, unknown>) => void;

export class PhoenixSocket {
  private ref = 0;
  private readonly replies = new Map<string, (payload: Record<string, unknown>) => void>();
  private readonly handlers = new Map<string, PhoenixHandler>();
  private readonly heartbeat: NodeJS.Timeout;

  private constructor(private readonly ws: WebSocket) {
    // Text frames, as Buffers (ws's default binaryType).
    ws.on('message', (data: Buffer) => this.receive(data.toString('utf8')));
    // A push without awaitReply resolves at once and never rejects.
    this.heartbeat = setInterval(() => void this.push('phoenix', 'heartbeat', {}), 20_000);
    ws.on('close', () => clearInterval(this.heartbeat));
  }

  static open(apiUrl: string, apikey: string): Promise<PhoenixSocket> {
    const url = `${apiUrl.replace(/^http/, 'ws')}/realtime/v1/websocket?apikey=${encodeURIComponent(apikey)}&vsn=1.0.0`;
    const ws = new WebSocket(url);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new PhoenixSocket(ws)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`realtime refused the socket: HTTP ${res.statusCode}`)),
      );
    });
  }

  /** Joins `topic` and resolves with the join reply's response, or rejects with its reason. */
  async join(
    topic: string,
    payload: Record<string, unknown>,
    onMessage: PhoenixHandler,
  ): Promise<Record<string, unknown>> {
    this.handlers.set(topic, onMessage);
    const reply = await this.push(topic, 'phx_join', payload, true);
    if (reply.status !== 'ok') throw new Error(`join ${topic} refused: ${JSON.stringify(reply.response)}`);
    return (reply.response ?? {}) as Record<string, unknown>;
  }

  /** Sends a frame; with `awaitReply`, resolves with its phx_reply payload. */
  push(
    topic: string,
    event: string,
    payload: Record<string, unknown>,
    awaitReply = false,
  ): Promise<Record<string, unknown>> {
    const ref = String(++this.ref);
    const frame: Frame = { topic, event, payload, ref, join_ref: event === 'phx_join' ? ref : null };
    const replied = awaitReply
      ? new Promise<Record<string, unknown>>((resolve, reject) => {
          const timer = setTimeout(() => {
            this.replies.delete(ref);
            reject(new Error(`no reply to ${event} on ${topic} within 10 s`));
          }, 10_000);
          this.replies.set(ref, (p) => {
            clearTimeout(timer);
            resolve(p);
          });
        })
      : Promise.resolve({});
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
    return replied;
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.ws.close(1000);
  }

  private receive(text: string): void {
    let frame: Frame;
    try {
      frame = JSON.parse(text) as Frame;
    } catch {
      return;
    }
    if (frame.event === 'phx_reply' && frame.ref !== null) {
      const resolve = this.replies.get(frame.ref);
      this.replies.delete(frame.ref);
      resolve?.(frame.payload);
      return;
    }
    this.handlers.get(frame.topic)?.(frame.event, frame.payload);
  }
}
