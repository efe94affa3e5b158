/**
 * How a bus message travels as NOTIFY payloads (pure). A payload is text of fewer than 8000 bytes
 * (PostgreSQL refuses longer ones) with no NUL byte (text cannot hold one), so:
 *
 *   <origin>:<seq>:<kind>:<part>:<parts>:<topic length>:<topic><body>
 *
 * kind `t`: the body is the text as published (most realtime traffic: JSON without NUL, small);
 * `b`: bytes, base64; `T`/`B`: one part of a longer text/bytes message, its UTF-8/raw bytes cut
 * into base64 parts that `Reassembly` joins. `origin:seq` is unique per message, which also keeps
 * PostgreSQL from folding two equal payloads of one transaction into one notification.
 */

/** Payload budget, below NOTIFY's 8000-byte limit with room to spare. */
export const MAX_PAYLOAD_BYTES = 7900;
/** The largest message the bus carries (a realtime payload is capped far below this). */
export const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
const MAX_TOPIC_BYTES = 1000;

export interface Part {
  readonly origin: string;
  readonly seq: number;
  readonly kind: 't' | 'b' | 'T' | 'B';
  readonly part: number;
  readonly parts: number;
  readonly topic: string;
  readonly body: string;
}

/** The payloads of one message, in order; throws on a message or topic too large to carry. */
export function encodeMessage(origin: string, seq: number, topic: string, message: Uint8Array | string): string[] {
  if (Buffer.byteLength(topic) > MAX_TOPIC_BYTES) throw new Error(`bus topic longer than ${MAX_TOPIC_BYTES} bytes`);
  const head = (kind: Part['kind'], part: number, parts: number) =>
    `${origin}:${seq}:${kind}:${part}:${parts}:${topic.length}:${topic}`;
  if (typeof message === 'string' && !message.includes('\0')) {
    const whole = `${head('t', 0, 1)}${message}`;
    if (Buffer.byteLength(whole) < MAX_PAYLOAD_BYTES) return [whole];
  }
  const bytes = typeof message === 'string' ? Buffer.from(message, 'utf8') : Buffer.from(message);
  if (bytes.length > MAX_MESSAGE_BYTES) throw new Error(`bus message larger than ${MAX_MESSAGE_BYTES} bytes`);
  if (typeof message !== 'string') {
    const whole = `${head('b', 0, 1)}${bytes.toString('base64')}`;
    if (Buffer.byteLength(whole) < MAX_PAYLOAD_BYTES) return [whole];
  }
  // The header of the last part is the longest (its part number has the most digits).
  const roughParts = Math.ceil(bytes.length / 4000) + 1;
  const room = MAX_PAYLOAD_BYTES - Buffer.byteLength(head('T', roughParts, roughParts)) - 16;
  const chunk = Math.floor(room / 4) * 3;
  const parts = Math.max(1, Math.ceil(bytes.length / chunk));
  const kind = typeof message === 'string' ? 'T' : 'B';
  const out: string[] = [];
  for (let i = 0; i < parts; i++)
    out.push(`${head(kind, i, parts)}${bytes.subarray(i * chunk, (i + 1) * chunk).toString('base64')}`);
  return out;
}

/** One payload's fields, or undefined for a payload not in this format (someone else's NOTIFY). */
export function decodePart(payload: string): Part | undefined {
  const fields: string[] = [];
  let at = 0;
  for (let i = 0; i < 6; i++) {
    const colon = payload.indexOf(':', at);
    if (colon < 0) return undefined;
    fields.push(payload.slice(at, colon));
    at = colon + 1;
  }
  const [origin, seq, kind, part, parts, topicLength] = fields as [string, string, string, string, string, string];
  const n = { seq: Number(seq), part: Number(part), parts: Number(parts), topicLength: Number(topicLength) };
  if (!Object.values(n).every(Number.isSafeInteger) || n.part < 0 || n.part >= n.parts) return undefined;
  if (kind !== 't' && kind !== 'b' && kind !== 'T' && kind !== 'B') return undefined;
  if (at + n.topicLength > payload.length) return undefined;
  const topic = payload.slice(at, at + n.topicLength);
  return { origin, seq: n.seq, kind, part: n.part, parts: n.parts, topic, body: payload.slice(at + n.topicLength) };
}

/**
 * Joins the parts of long messages. Parts of one message come from one transaction, so they
 * arrive together and in order; a message whose parts stop coming (its sender died mid-way, the
 * connection dropped) is dropped after `maxAgeMs`, and at most `maxPendingBytes` wait at once.
 */
export class Reassembly {
  readonly #pending = new Map<string, { parts: string[]; got: number; bytes: number; since: number }>();
  #bytes = 0;

  constructor(
    private readonly maxAgeMs = 30_000,
    private readonly maxPendingBytes = 2 * MAX_MESSAGE_BYTES,
  ) {}

  /** The whole message once `part` completes it; undefined while parts are missing. */
  add(part: Part, now = Date.now()): { topic: string; message: Uint8Array | string } | undefined {
    if (part.kind === 't') return { topic: part.topic, message: part.body };
    if (part.kind === 'b') return { topic: part.topic, message: new Uint8Array(Buffer.from(part.body, 'base64')) };
    const key = `${part.origin}:${part.seq}`;
    let entry = this.#pending.get(key);
    if (!entry) {
      this.#expire(now);
      if (part.parts * 4000 > MAX_MESSAGE_BYTES * 1.4) return undefined;
      this.#pending.set(key, (entry = { parts: new Array<string>(part.parts), got: 0, bytes: 0, since: now }));
    }
    if (entry.parts.length !== part.parts || entry.parts[part.part] !== undefined) return undefined;
    entry.parts[part.part] = part.body;
    entry.got++;
    entry.bytes += part.body.length;
    this.#bytes += part.body.length;
    if (this.#bytes > this.maxPendingBytes) {
      this.#drop(key);
      return undefined;
    }
    if (entry.got < part.parts) return undefined;
    this.#drop(key);
    const bytes = Buffer.concat(entry.parts.map((p) => Buffer.from(p, 'base64')));
    return { topic: part.topic, message: part.kind === 'T' ? bytes.toString('utf8') : new Uint8Array(bytes) };
  }

  /** Messages waiting for parts (for tests and metrics). */
  get size(): number {
    return this.#pending.size;
  }

  clear(): void {
    this.#pending.clear();
    this.#bytes = 0;
  }

  #drop(key: string): void {
    const entry = this.#pending.get(key);
    if (!entry) return;
    this.#bytes -= entry.bytes;
    this.#pending.delete(key);
  }

  #expire(now: number): void {
    for (const [key, entry] of this.#pending) if (now - entry.since > this.maxAgeMs) this.#drop(key);
  }
}
