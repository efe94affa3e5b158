/** The table-change notice between the WAL consumer and the response cache. */
import { expect, test } from 'vitest';
import { decodeTableChanges, encodeTableChanges } from '../../src/platform/table-changes.js';
import { tableChangesOf, type WalBatch } from '../../src/realtime/changes/wire.js';

const part = (tables: string[]): WalBatch => ({
  commitTimestamp: '2026-01-01T00:00:00.000Z',
  xid: 7,
  changes: tables.map((t) => ({ schema: 'public', table: t, type: 'INSERT', columns: [] })),
});

test("a transaction's parts give one notice naming each table once", () => {
  const notice = tableChangesOf([part(['rooms', 'messages', 'rooms']), part(['messages', 'members'])]);
  expect(notice).toEqual({
    commitTimestamp: '2026-01-01T00:00:00.000Z',
    tables: ['public.rooms', 'public.messages', 'public.members'],
  });
  expect(decodeTableChanges(encodeTableChanges(notice))).toEqual(notice);
  expect(decodeTableChanges(Buffer.from(encodeTableChanges(notice)))).toEqual(notice);
});

test.each([
  ['not json'],
  ['null'],
  ['{}'],
  ['{"commitTimestamp":1,"tables":[]}'],
  ['{"commitTimestamp":"x","tables":[1]}'],
])('a malformed notice %j is dropped', (text) => expect(decodeTableChanges(text)).toBeUndefined());
