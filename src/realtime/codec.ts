/**
 * The Phoenix channel frame codec, pure: serializer 1.0.0 (JSON objects), 2.0.0 (JSON arrays) and
 * the binary user-broadcast frames of @supabase/realtime-js's serializer (kind 3 from the client,
 * kind 4 to it). Nothing here touches a socket; every malformed input is a `{ ok: false }` value.
 */
import { isJsonObject, parseJson, stringifyJson } from '../platform/json.js';

export type Vsn = '1.0.0' | '2.0.0';
export const VSNS: readonly Vsn[] = ['1.0.0', '2.0.0'];

/** A broadcast's user part: its event, and its payload as JSON text or as bytes (kept as received). */
export interface UserBroadcast {
  readonly event: string;
  /** The payload as JSON text (already validated); absent when `binary` is set. */
  readonly json?: string;
  readonly binary?: Uint8Array;
  /** Client metadata, a JSON object's text, when the client sent any. */
  readonly meta?: string;
}

export interface Frame {
  readonly joinRef: string | null;
  readonly ref: string | null;
  readonly topic: string;
  readonly event: string;
  readonly payload: Readonly<Record<string, unknown>>;
  /** Set for a binary user-broadcast push (kind 3): `payload` is then empty. */
  readonly broadcast?: UserBroadcast;
}

export type Decoded = { readonly ok: true; readonly frame: Frame } | { readonly ok: false; readonly reason: string };

const KIND_USER_BROADCAST_PUSH = 3;
const KIND_USER_BROADCAST = 4;
const ENCODING_BINARY = 0;
const ENCODING_JSON = 1;
const utf8 = new TextDecoder('utf-8', { fatal: true });

const fail = (reason: string): Decoded => ({ ok: false, reason });

function isRecord(value: unknown): value is Record<string, unknown> {
  return isJsonObject(value);
}

const isRef = (value: unknown): value is string | null | undefined =>
  value === null || value === undefined || typeof value === 'string';

/** Decodes one WebSocket message (`data` is a string for a text frame, bytes for a binary one). */
export function decodeFrame(vsn: Vsn, data: string | Uint8Array): Decoded {
  if (typeof data !== 'string')
    return vsn === '2.0.0' ? decodeBinary(data) : fail('binary frames need serializer 2.0.0');
  let parsed: unknown;
  try {
    // Numbers as written (platform/json.ts): a payload reaches the other clients as it was sent.
    parsed = parseJson(data);
  } catch {
    return fail('frame is not JSON');
  }
  let joinRef: unknown, ref: unknown, topic: unknown, event: unknown, payload: unknown;
  if (vsn === '2.0.0') {
    if (!Array.isArray(parsed) || parsed.length !== 5)
      return fail('a 2.0.0 frame is an array [join_ref, ref, topic, event, payload]');
    [joinRef, ref, topic, event, payload] = parsed as unknown[];
  } else {
    if (!isRecord(parsed)) return fail('a 1.0.0 frame is an object {join_ref, ref, topic, event, payload}');
    ({ join_ref: joinRef, ref, topic, event, payload } = parsed);
  }
  if (!isRef(joinRef) || !isRef(ref)) return fail('join_ref and ref are strings or null');
  if (typeof topic !== 'string' || typeof event !== 'string') return fail('topic and event are strings');
  if (payload === undefined || payload === null) payload = {};
  if (!isRecord(payload)) return fail('payload is an object');
  return { ok: true, frame: { joinRef: joinRef ?? null, ref: ref ?? null, topic, event, payload } };
}

/** realtime-js's user broadcast push: kind, 5 lengths, encoding, then the strings and the payload. */
function decodeBinary(bytes: Uint8Array): Decoded {
  if (bytes.length < 7) return fail('binary frame is too short');
  if (bytes[0] !== KIND_USER_BROADCAST_PUSH)
    return fail(`binary frame kind ${bytes[0]} is not a user broadcast push (3)`);
  const lengths = [bytes[1]!, bytes[2]!, bytes[3]!, bytes[4]!, bytes[5]!];
  const encoding = bytes[6];
  if (encoding !== ENCODING_BINARY && encoding !== ENCODING_JSON)
    return fail(`binary frame payload encoding ${encoding} is unknown`);
  let offset = 7;
  const strings: string[] = [];
  for (const length of lengths) {
    if (offset + length > bytes.length) return fail('binary frame is shorter than its header says');
    try {
      strings.push(utf8.decode(bytes.subarray(offset, offset + length)));
    } catch {
      return fail('binary frame header is not UTF-8');
    }
    offset += length;
  }
  const [joinRef, ref, topic, event, meta] = strings as [string, string, string, string, string];
  if (meta !== '' && !isJsonObjectText(meta)) return fail('binary frame metadata is not a JSON object');
  const body = bytes.subarray(offset);
  let broadcast: UserBroadcast;
  if (encoding === ENCODING_JSON) {
    let text: string;
    try {
      text = utf8.decode(body);
      JSON.parse(text);
    } catch {
      return fail('binary frame JSON payload is not JSON');
    }
    broadcast = { event, json: text, ...(meta !== '' && { meta }) };
  } else {
    broadcast = { event, binary: new Uint8Array(body), ...(meta !== '' && { meta }) };
  }
  return {
    ok: true,
    frame: { joinRef: joinRef || null, ref: ref || null, topic, event: 'broadcast', payload: {}, broadcast },
  };
}

function isJsonObjectText(text: string): boolean {
  try {
    return isRecord(JSON.parse(text));
  } catch {
    return false;
  }
}

/** The user broadcast a frame carries: a binary push, or a JSON `broadcast` with a string `event`. */
export function userBroadcastOf(frame: Frame): UserBroadcast | undefined {
  if (frame.broadcast) return frame.broadcast;
  const { event, payload, meta } = frame.payload;
  if (frame.event !== 'broadcast' || typeof event !== 'string') return undefined;
  return {
    event,
    json: stringifyJson(payload === undefined ? {} : payload),
    ...(isRecord(meta) && { meta: stringifyJson(meta) }),
  };
}

/** Encodes a message to the client; `payload` must be JSON-serialisable. */
export function encodeFrame(
  vsn: Vsn,
  joinRef: string | null,
  ref: string | null,
  topic: string,
  event: string,
  payload: unknown,
): string {
  return vsn === '2.0.0'
    ? stringifyJson([joinRef, ref, topic, event, payload])
    : stringifyJson({ join_ref: joinRef, ref, topic, event, payload });
}

/**
 * A broadcast to clients, encoded once for every subscriber of the topic. The user's JSON payload
 * is spliced in as the text it arrived as, never parsed and re-serialised per message. A binary
 * payload has no 1.0.0 form (Supabase skips those clients too): undefined.
 */
export function encodeBroadcast(vsn: Vsn, topic: string, broadcast: UserBroadcast): string | Uint8Array | undefined {
  if (broadcast.binary) return vsn === '2.0.0' ? encodeBinaryBroadcast(topic, broadcast, broadcast.binary) : undefined;
  const body = `{"type":"broadcast","event":${JSON.stringify(broadcast.event)},"payload":${broadcast.json ?? '{}'}${broadcast.meta ? `,"meta":${broadcast.meta}` : ''}}`;
  return vsn === '2.0.0'
    ? `[null,null,${JSON.stringify(topic)},"broadcast",${body}]`
    : `{"join_ref":null,"ref":null,"topic":${JSON.stringify(topic)},"event":"broadcast","payload":${body}}`;
}

const encoder = new TextEncoder();

function encodeBinaryBroadcast(topic: string, broadcast: UserBroadcast, payload: Uint8Array): Uint8Array | undefined {
  const parts = [encoder.encode(topic), encoder.encode(broadcast.event), encoder.encode(broadcast.meta ?? '')];
  if (parts.some((p) => p.length > 255)) return undefined;
  const [t, e, m] = parts as [Uint8Array, Uint8Array, Uint8Array];
  const out = new Uint8Array(5 + t.length + e.length + m.length + payload.length);
  out.set([KIND_USER_BROADCAST, t.length, e.length, m.length, ENCODING_BINARY]);
  let offset = 5;
  for (const part of [t, e, m, payload]) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** The size a broadcast's payload counts for against the payload limit. */
export function broadcastSize(broadcast: UserBroadcast): number {
  return broadcast.binary ? broadcast.binary.length : Buffer.byteLength(broadcast.json ?? '');
}

/** A frame ready for the socket: encoded to bytes once, however many sockets it goes to. */
export interface OutFrame {
  readonly data: Buffer;
  readonly binary: boolean;
}

export function outFrame(encoded: string | Uint8Array): OutFrame {
  return typeof encoded === 'string'
    ? { data: Buffer.from(encoded, 'utf8'), binary: false }
    : { data: Buffer.from(encoded.buffer, encoded.byteOffset, encoded.length), binary: true };
}
