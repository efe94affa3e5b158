import { describe, expect, test } from 'vitest';
import { TransactionAssembler } from '../../../src/realtime/changes/assembler.js';
import { PgOutputError, decodePgOutput, formatLsn, parseLsn } from '../../../src/realtime/changes/pgoutput.js';
import { parseArrayLiteral, textToJson } from '../../../src/realtime/changes/values.js';
import { JsonNumber } from '../../../src/platform/json.js';

/** Byte builders for pgoutput messages (big-endian, C strings). */
const u8 = (n: number) => Buffer.from([n]);
const i16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const i64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
};
const str = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), u8(0)]);
const ch = (c: string) => Buffer.from(c, 'latin1');
const text = (s: string) => Buffer.concat([ch('t'), i32(Buffer.byteLength(s)), Buffer.from(s, 'utf8')]);
const tuple = (...cols: Buffer[]) => Buffer.concat([i16(cols.length), ...cols]);

// 2024-01-02T03:04:05.678Z in microseconds since 2000-01-01.
const when = new Date('2024-01-02T03:04:05.678Z');
const pgTime = (BigInt(when.getTime()) - 946_684_800_000n) * 1000n;

const relation = Buffer.concat([
  ch('R'),
  i32(16384),
  str('public'),
  str('messages'),
  ch('d'),
  i16(3),
  u8(1),
  str('id'),
  i32(20),
  i32(-1),
  u8(0),
  str('body'),
  i32(25),
  i32(-1),
  u8(0),
  str('tags'),
  i32(1009),
  i32(-1),
]);

describe('decodePgOutput', () => {
  test.each([
    [
      'Begin',
      Buffer.concat([ch('B'), i64(0x16b374d848n), i64(pgTime), i32(771)]),
      { tag: 'begin', finalLsn: 0x16b374d848n, commitTime: when, xid: 771 },
    ],
    [
      'Commit',
      Buffer.concat([ch('C'), u8(0), i64(10n), i64(20n), i64(pgTime)]),
      { tag: 'commit', commitLsn: 10n, endLsn: 20n, commitTime: when },
    ],
    [
      'Relation',
      relation,
      {
        tag: 'relation',
        relationId: 16384,
        schema: 'public',
        table: 'messages',
        replicaIdentity: 'd',
        columns: [
          { name: 'id', typeOid: 20, typeMod: -1, isKey: true },
          { name: 'body', typeOid: 25, typeMod: -1, isKey: false },
          { name: 'tags', typeOid: 1009, typeMod: -1, isKey: false },
        ],
      },
    ],
    [
      'Insert with text, null and a multi-byte value',
      Buffer.concat([ch('I'), i32(16384), ch('N'), tuple(text('7'), ch('n'), text('{é,"b c"}'))]),
      {
        tag: 'insert',
        relationId: 16384,
        newTuple: [{ kind: 'text', text: '7' }, { kind: 'null' }, { kind: 'text', text: '{é,"b c"}' }],
      },
    ],
    [
      'Update without old tuple, with an unchanged TOAST value',
      Buffer.concat([ch('U'), i32(16384), ch('N'), tuple(text('7'), ch('u'), ch('n'))]),
      {
        tag: 'update',
        relationId: 16384,
        oldTuple: undefined,
        oldKind: undefined,
        newTuple: [{ kind: 'text', text: '7' }, { kind: 'unchanged' }, { kind: 'null' }],
      },
    ],
    [
      'Update with the old key (K)',
      Buffer.concat([
        ch('U'),
        i32(16384),
        ch('K'),
        tuple(text('6'), ch('n'), ch('n')),
        ch('N'),
        tuple(text('7'), text('x'), ch('n')),
      ]),
      {
        tag: 'update',
        relationId: 16384,
        oldKind: 'key',
        oldTuple: [{ kind: 'text', text: '6' }, { kind: 'null' }, { kind: 'null' }],
        newTuple: [{ kind: 'text', text: '7' }, { kind: 'text', text: 'x' }, { kind: 'null' }],
      },
    ],
    [
      'Delete with the whole old row (O)',
      Buffer.concat([ch('D'), i32(16384), ch('O'), tuple(text('7'), text('bye'), ch('n'))]),
      {
        tag: 'delete',
        relationId: 16384,
        oldKind: 'full',
        oldTuple: [{ kind: 'text', text: '7' }, { kind: 'text', text: 'bye' }, { kind: 'null' }],
      },
    ],
    [
      'Truncate',
      Buffer.concat([ch('T'), i32(2), u8(0), i32(16384), i32(16390)]),
      { tag: 'truncate', relationIds: [16384, 16390] },
    ],
    ['Origin (ignored)', Buffer.concat([ch('O'), i64(1n), str('origin')]), { tag: 'other', code: 'O' }],
    ['Type (ignored)', Buffer.concat([ch('Y'), i32(99999), str('public'), str('mood')]), { tag: 'other', code: 'Y' }],
  ])('%s', (_name, bytes, expected) => {
    expect(decodePgOutput(bytes)).toEqual(expected);
  });

  test.each([
    ['an unknown message', Buffer.concat([ch('Z')]), /unknown pgoutput message "Z"/],
    ['a truncated Begin', Buffer.concat([ch('B'), i32(1)]), /truncated/],
    [
      'a binary column',
      Buffer.concat([ch('I'), i32(1), ch('N'), tuple(Buffer.concat([ch('b'), i32(1), u8(1)]))]),
      /binary values/,
    ],
    ['an Insert without N', Buffer.concat([ch('I'), i32(1), ch('X')]), /expected "N"/],
    ['an unterminated name', Buffer.concat([ch('R'), i32(1), Buffer.from('public')]), /unterminated string/],
  ])('refuses %s', (_name, bytes, message) => {
    expect(() => decodePgOutput(bytes)).toThrow(PgOutputError);
    expect(() => decodePgOutput(bytes)).toThrow(message);
  });

  test('LSNs print and parse as PostgreSQL writes them', () => {
    expect(formatLsn(0x16b374d848n)).toBe('16/B374D848');
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
  });
});

describe('TransactionAssembler', () => {
  test('collects a transaction and hands it out at Commit, key-only old tuples without their nulls', () => {
    const a = new TransactionAssembler();
    const feed = (b: Buffer) => a.push(decodePgOutput(b));
    expect(feed(Buffer.concat([ch('B'), i64(5n), i64(pgTime), i32(1)]))).toBeUndefined();
    feed(relation);
    feed(Buffer.concat([ch('I'), i32(16384), ch('N'), tuple(text('1'), text('a'), ch('n'))]));
    feed(
      Buffer.concat([
        ch('U'),
        i32(16384),
        ch('K'),
        tuple(text('1'), ch('n'), ch('n')),
        ch('N'),
        tuple(text('2'), ch('u'), ch('n')),
      ]),
    );
    feed(Buffer.concat([ch('T'), i32(1), u8(0), i32(16384)]));
    expect(a.inTransaction()).toBe(true);
    const out = feed(Buffer.concat([ch('C'), u8(0), i64(5n), i64(9n), i64(pgTime)]));
    expect(a.inTransaction()).toBe(false);
    expect(out).toHaveLength(1);
    expect(out?.[0]?.endLsn).toBe(9n);
    expect(out?.[0]?.batch.commitTimestamp).toBe('2024-01-02T03:04:05.678Z');
    expect(out?.[0]?.batch.changes.map((c) => [c.type, c.new, c.old, c.oldKind])).toEqual([
      ['INSERT', { id: '1', body: 'a', tags: null }, undefined, undefined],
      // The unchanged TOAST value is absent, not null.
      ['UPDATE', { id: '2', tags: null }, { id: '1' }, 'key'],
    ]);
    // The truncate sends no rows; its table is noted for the caches.
    expect(out?.[0]?.truncated).toEqual(['public.messages']);
  });
});

describe('values as Supabase sends them', () => {
  test.each([
    [20, '9007199254740991', 9007199254740991],
    [23, '-7', -7],
    [701, '1.5', 1.5],
    [701, 'NaN', 'NaN'],
    // As to_jsonb writes them: a numeric keeps its scale, an int8 every digit (platform/json.ts).
    [1700, '12.50', new JsonNumber('12.50')],
    [20, '1234567890123456789', new JsonNumber('1234567890123456789')],
    [1700, '7', 7],
    [16, 't', true],
    [16, 'f', false],
    [3802, '{"a": [1, null]}', { a: [1, null] }],
    [114, '[1,2]', [1, 2]],
    [1007, '{1,2,NULL}', [1, 2, null]],
    [1009, '{a,"b c","d\\"e",NULL}', ['a', 'b c', 'd"e', null]],
    [
      1007,
      '{{1,2},{3,4}}',
      [
        [1, 2],
        [3, 4],
      ],
    ],
    [1000, '{t,f}', [true, false]],
    [3807, '{"{\\"a\\": 1}"}', [{ a: 1 }]],
    [1184, '2024-05-01 10:00:00.5+00', '2024-05-01T10:00:00.5+00:00'],
    [1184, '2024-05-01 10:00:00+05:30', '2024-05-01T10:00:00+05:30'],
    [1114, '2024-05-01 10:00:00', '2024-05-01T10:00:00'],
    [2950, '00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000000a'],
    [25, 'plain text', 'plain text'],
    [99999, 'happy', 'happy'],
  ])('type %i: %s', (oid, input, expected) => {
    expect(textToJson(oid, input)).toEqual(expected);
  });

  test('arrays with explicit bounds and empty arrays', () => {
    expect(parseArrayLiteral('[0:1]={7,8}')).toEqual(['7', '8']);
    expect(parseArrayLiteral('{}')).toEqual([]);
  });
});
