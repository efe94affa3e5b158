import crypto from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { decodeFrame, encodeBroadcast, encodeFrame, userBroadcastOf, type Frame } from '../../src/realtime/codec.js';

/** realtime-js's kind-3 push, built the way its serializer builds it. */
function userPush(
  joinRef: string,
  ref: string,
  topic: string,
  event: string,
  meta: string,
  encoding: 0 | 1,
  payload: Uint8Array,
): Uint8Array {
  const head = [3, joinRef.length, ref.length, topic.length, event.length, meta.length, encoding];
  return Buffer.concat([Buffer.from(head), Buffer.from(joinRef + ref + topic + event + meta), payload]);
}

describe('decodeFrame', () => {
  test.each<[string, '1.0.0' | '2.0.0', string, Frame]>([
    [
      '2.0.0 join',
      '2.0.0',
      '["1","1","realtime:room","phx_join",{"config":{}}]',
      { joinRef: '1', ref: '1', topic: 'realtime:room', event: 'phx_join', payload: { config: {} } },
    ],
    [
      '2.0.0 heartbeat',
      '2.0.0',
      '[null,"5","phoenix","heartbeat",{}]',
      { joinRef: null, ref: '5', topic: 'phoenix', event: 'heartbeat', payload: {} },
    ],
    [
      '2.0.0 null payload',
      '2.0.0',
      '["1","2","realtime:a","phx_leave",null]',
      { joinRef: '1', ref: '2', topic: 'realtime:a', event: 'phx_leave', payload: {} },
    ],
    [
      '1.0.0 object',
      '1.0.0',
      '{"topic":"realtime:a","event":"broadcast","payload":{"type":"broadcast","event":"e","payload":{"x":1}},"ref":"3","join_ref":"1"}',
      {
        joinRef: '1',
        ref: '3',
        topic: 'realtime:a',
        event: 'broadcast',
        payload: { type: 'broadcast', event: 'e', payload: { x: 1 } },
      },
    ],
    [
      '1.0.0 without refs',
      '1.0.0',
      '{"topic":"phoenix","event":"heartbeat","payload":{}}',
      { joinRef: null, ref: null, topic: 'phoenix', event: 'heartbeat', payload: {} },
    ],
  ])('%s', (_name, vsn, text, frame) => {
    expect(decodeFrame(vsn, text)).toEqual({ ok: true, frame });
  });

  test.each<[string, '1.0.0' | '2.0.0', string | Uint8Array, RegExp]>([
    ['not JSON', '2.0.0', '{', /not JSON/],
    ['2.0.0 object', '2.0.0', '{"topic":"a"}', /array/],
    ['2.0.0 four elements', '2.0.0', '[null,null,"t","e"]', /array/],
    ['1.0.0 array', '1.0.0', '[null,null,"t","e",{}]', /object/],
    ['numeric ref', '2.0.0', '[null,1,"t","e",{}]', /join_ref and ref/],
    ['numeric topic', '2.0.0', '[null,null,1,"e",{}]', /topic and event/],
    ['string payload', '2.0.0', '[null,null,"t","e","p"]', /payload/],
    ['binary on 1.0.0', '1.0.0', new Uint8Array([3, 0, 0, 0, 0, 0, 1]), /2\.0\.0/],
    ['short binary', '2.0.0', new Uint8Array([3, 0]), /too short/],
    ['unknown kind', '2.0.0', new Uint8Array([0, 0, 0, 0, 0, 0, 1]), /kind 0/],
    ['unknown encoding', '2.0.0', new Uint8Array([3, 0, 0, 0, 0, 0, 7]), /encoding 7/],
    ['truncated header', '2.0.0', new Uint8Array([3, 0, 0, 200, 0, 0, 1, 65]), /shorter/],
    ['bad JSON payload', '2.0.0', userPush('1', '2', 'realtime:a', 'e', '', 1, Buffer.from('{x')), /not JSON/],
    ['metadata not an object', '2.0.0', userPush('1', '2', 'realtime:a', 'e', '[1]', 1, Buffer.from('{}')), /metadata/],
  ])('refuses %s', (_name, vsn, data, reason) => {
    const decoded = decodeFrame(vsn, data);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).toMatch(reason);
  });

  test('a binary JSON user broadcast push keeps its payload text', () => {
    const decoded = decodeFrame(
      '2.0.0',
      userPush('1', '7', 'realtime:room', 'typing', '{"id":"m1"}', 1, Buffer.from('{"who":"ann"}')),
    );
    expect(decoded).toEqual({
      ok: true,
      frame: {
        joinRef: '1',
        ref: '7',
        topic: 'realtime:room',
        event: 'broadcast',
        payload: {},
        broadcast: { event: 'typing', json: '{"who":"ann"}', meta: '{"id":"m1"}' },
      },
    });
  });

  test('a binary user broadcast push keeps its bytes', () => {
    const decoded = decodeFrame('2.0.0', userPush('', '', 'realtime:r', 'blob', '', 0, new Uint8Array([0, 255, 1])));
    expect(decoded.ok && decoded.frame.broadcast).toEqual({ event: 'blob', binary: new Uint8Array([0, 255, 1]) });
    expect(decoded.ok && decoded.frame.ref).toBeNull();
  });
});

describe('encoding', () => {
  test('frames in both serializers', () => {
    expect(encodeFrame('2.0.0', '1', '2', 'realtime:a', 'phx_reply', { status: 'ok', response: {} })).toBe(
      '["1","2","realtime:a","phx_reply",{"status":"ok","response":{}}]',
    );
    expect(JSON.parse(encodeFrame('1.0.0', null, '2', 'phoenix', 'phx_reply', { status: 'ok' }))).toEqual({
      join_ref: null,
      ref: '2',
      topic: 'phoenix',
      event: 'phx_reply',
      payload: { status: 'ok' },
    });
  });

  test('a JSON broadcast is spliced in as text and parses back to what was sent', () => {
    const frame = encodeBroadcast('2.0.0', 'realtime:r', { event: 'e"vil', json: '{"a":[1,2]}', meta: '{"id":"x"}' });
    expect(JSON.parse(frame as string)).toEqual([
      null,
      null,
      'realtime:r',
      'broadcast',
      { type: 'broadcast', event: 'e"vil', payload: { a: [1, 2] }, meta: { id: 'x' } },
    ]);
    expect(JSON.parse(encodeBroadcast('1.0.0', 'realtime:r', { event: 'e', json: '3' }) as string)).toEqual({
      join_ref: null,
      ref: null,
      topic: 'realtime:r',
      event: 'broadcast',
      payload: { type: 'broadcast', event: 'e', payload: 3 },
    });
  });

  test('a binary broadcast is realtime-js kind 4 on 2.0.0 and skipped on 1.0.0', () => {
    const frame = encodeBroadcast('2.0.0', 'realtime:r', { event: 'b', binary: new Uint8Array([9, 8]) }) as Uint8Array;
    expect([...frame]).toEqual([4, 10, 1, 0, 0, ...Buffer.from('realtime:rb'), 9, 8]);
    expect(encodeBroadcast('1.0.0', 'realtime:r', { event: 'b', binary: new Uint8Array([1]) })).toBeUndefined();
  });

  test('userBroadcastOf a JSON push', () => {
    const decoded = decodeFrame(
      '2.0.0',
      '["1","2","realtime:a","broadcast",{"type":"broadcast","event":"e","payload":{"x":1}}]',
    );
    expect(decoded.ok && userBroadcastOf(decoded.frame)).toEqual({ event: 'e', json: '{"x":1}' });
    const noEvent = decodeFrame('2.0.0', '["1","2","realtime:a","broadcast",{"type":"broadcast"}]');
    expect(noEvent.ok && userBroadcastOf(noEvent.frame)).toBeUndefined();
  });
});

describe('fuzz: garbage never throws', () => {
  const seeds = [
    '["1","1","realtime:room","phx_join",{"config":{}}]',
    '{"topic":"t","event":"e","payload":{},"ref":"1","join_ref":null}',
    '[null,null,"phoenix","heartbeat",{}]',
  ];
  test('random bytes, truncations and mutations of valid frames decode to ok or a reason', () => {
    for (let i = 0; i < 5000; i++) {
      const vsn = i % 2 === 0 ? '2.0.0' : '1.0.0';
      const kind = i % 4;
      let data: string | Uint8Array;
      if (kind === 0) data = crypto.randomBytes(i % 64);
      else if (kind === 1) data = seeds[i % seeds.length]!.slice(0, i % 60);
      else if (kind === 2) {
        const chars = [...seeds[i % seeds.length]!];
        chars[i % chars.length] = String.fromCharCode(32 + (i % 90));
        data = chars.join('');
      } else data = Buffer.concat([Buffer.from([3]), crypto.randomBytes(i % 40)]);
      const decoded = decodeFrame(vsn, data);
      expect(typeof decoded.ok).toBe('boolean');
      if (decoded.ok) {
        expect(typeof decoded.frame.topic).toBe('string');
        expect(typeof decoded.frame.payload).toBe('object');
      }
    }
  });
});
