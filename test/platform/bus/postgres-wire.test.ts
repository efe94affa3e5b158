import { describe, expect, test } from 'vitest';
import {
  decodePart,
  encodeMessage,
  MAX_MESSAGE_BYTES,
  MAX_PAYLOAD_BYTES,
  Reassembly,
} from '../../../src/platform/bus/postgres-wire.js';

const roundTrip = (message: Uint8Array | string, topic = 'trellis:realtime:abc') => {
  const payloads = encodeMessage('origin1', 7, topic, message);
  const joined = new Reassembly();
  const out = payloads.map((p) => joined.add(decodePart(p)!));
  return { payloads, out: out.filter((o) => o !== undefined) };
};

describe('NOTIFY payloads', () => {
  test.each([
    ['short text', 'hello', 1, 't'],
    ['text with a colon-heavy topic', '{"a":1}', 1, 't'],
    ['text with a NUL', 'a\0b', 1, 'T'],
    ['multi-byte text just over the limit', 'é'.repeat(4000), 2, 'T'],
    ['long text', 'x'.repeat(100_000), 18, 'T'],
  ])('%s comes back equal, in the expected payloads', (_name, message, count, kind) => {
    const { payloads, out } = roundTrip(message);
    expect(payloads).toHaveLength(count);
    expect(payloads.every((p) => Buffer.byteLength(p) < MAX_PAYLOAD_BYTES && !p.includes('\0'))).toBe(true);
    expect(decodePart(payloads[0]!)!.kind).toBe(kind);
    expect(out).toEqual([{ topic: 'trellis:realtime:abc', message }]);
  });

  test.each([
    ['a few bytes', new Uint8Array([0, 255, 116, 0])],
    ['a megabyte of bytes', new Uint8Array(Buffer.alloc(1_000_000, 0xab))],
  ])('%s come back as bytes, every payload under the limit', (_name, bytes) => {
    const { payloads, out } = roundTrip(bytes);
    expect(payloads.every((p) => Buffer.byteLength(p) < MAX_PAYLOAD_BYTES)).toBe(true);
    expect(out).toHaveLength(1);
    expect(out[0]!.message).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(out[0]!.message as Uint8Array).equals(Buffer.from(bytes))).toBe(true);
  });

  test('a topic with colons and non-ASCII letters survives, and the body starts right after it', () => {
    const topic = 'a:b:ç:0:1:2:';
    const { out } = roundTrip(':x:y', topic);
    expect(out).toEqual([{ topic, message: ':x:y' }]);
  });

  test('a too large message or topic is refused when published, not cut', () => {
    expect(() => encodeMessage('o', 1, 't', new Uint8Array(MAX_MESSAGE_BYTES + 1))).toThrow(/larger than/);
    expect(() => encodeMessage('o', 1, 't'.repeat(2000), 'x')).toThrow(/topic longer/);
  });

  test.each([
    ['someone else’s payload', 'hello'],
    ['too few fields', 'o:1:t:0:1'],
    ['an unknown kind', 'o:1:z:0:1:1:tx'],
    ['a part number past the count', 'o:1:T:3:2:1:tx'],
    ['a topic length past the end', 'o:1:t:0:1:99:t'],
    ['a non-number', 'o:x:t:0:1:1:tx'],
  ])('%s is not a bus message', (_name, payload) => {
    expect(decodePart(payload)).toBeUndefined();
  });

  test('parts of two messages interleaved are joined apart; a repeated part is ignored', () => {
    const a = encodeMessage('o', 1, 't', 'a'.repeat(20_000));
    const b = encodeMessage('o', 2, 't', 'b'.repeat(20_000));
    const joined = new Reassembly();
    const out: unknown[] = [];
    for (let i = 0; i < a.length; i++) {
      for (const p of i === 0 ? [a[i]!, a[i]!, b[i]!] : [a[i]!, b[i]!]) {
        const whole = joined.add(decodePart(p)!);
        if (whole) out.push(whole.message);
      }
    }
    expect(out).toEqual(['a'.repeat(20_000), 'b'.repeat(20_000)]);
    expect(joined.size).toBe(0);
  });

  test('a message whose parts stop coming is forgotten after its age limit', () => {
    const parts = encodeMessage('o', 1, 't', 'z'.repeat(20_000));
    const joined = new Reassembly(1000);
    joined.add(decodePart(parts[0]!)!, 0);
    expect(joined.size).toBe(1);
    // A new message arriving later sweeps the stale one.
    joined.add(decodePart(encodeMessage('o', 2, 't', 'y'.repeat(20_000))[0]!)!, 5000);
    expect(joined.size).toBe(1);
    expect(joined.add(decodePart(parts[1]!)!, 5001)).toBeUndefined();
  });

  test('pending parts beyond the memory bound are dropped rather than kept', () => {
    const joined = new Reassembly(30_000, 10_000);
    const parts = encodeMessage('o', 1, 't', 'q'.repeat(50_000));
    const results = parts.map((p) => joined.add(decodePart(p)!));
    expect(results.every((r) => r === undefined)).toBe(true);
  });
});
