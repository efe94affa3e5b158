import { describe, expect, test } from 'vitest';
import type { Db } from '../../src/db/index.js';
import { createSessionCheck } from '../../src/platform/sessions.js';

/** A database that knows `liveIds`, counts the queries it answers, and lets a test send NOTIFYs. */
function fakeDb(liveIds: readonly string[]) {
  const queries: unknown[][] = [];
  let notify: (payload: string) => void = () => undefined;
  const db = {
    listen: (_channel: string, onNotify: (payload: string) => void) => {
      notify = onNotify;
    },
    query: async (_text: string, values: unknown[]) => {
      queries.push(values);
      const asked = values[0] as string[];
      return { rows: asked.filter((id) => liveIds.includes(id)).map((id) => ({ id })) };
    },
  } as unknown as Db;
  return { db, queries, notify: (payload: string) => notify(payload) };
}

const ids = Array.from({ length: 50 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);

describe('the session check', () => {
  test('lookups asked for at once are one query, and each id is asked once', async () => {
    const { db, queries } = fakeDb(ids.slice(0, 25));
    const check = createSessionCheck(db, 60);
    const answers = await Promise.all([...ids, ...ids].map((id) => check.isLive(id)));
    expect(queries).toHaveLength(1);
    expect((queries[0]![0] as string[]).length).toBe(50);
    expect(answers.slice(0, 50)).toEqual(ids.map((_, i) => i < 25));
    // Cached now: no second query.
    expect(await check.isLive(ids[0]!)).toBe(true);
    expect(queries).toHaveLength(1);
  });

  test('a revocation is known at once, and a reconnect forgets every cached answer', async () => {
    const { db, queries, notify } = fakeDb(ids);
    const check = createSessionCheck(db, 60);
    const heard: unknown[] = [];
    check.onRevoked((revoked) => heard.push(revoked === 'all' ? 'all' : [...revoked]));
    expect(await check.isLive(ids[1]!)).toBe(true);
    notify(`${ids[1]},${ids[2]}`);
    expect(await check.isLive(ids[1]!)).toBe(false);
    expect(queries).toHaveLength(1);
    notify('');
    expect(await check.isLive(ids[3]!)).toBe(true);
    expect(queries).toHaveLength(2);
    expect(heard).toEqual([[ids[1], ids[2]], 'all']);
  });

  test('an id that is not a uuid is no session, without asking the database', async () => {
    const { db, queries } = fakeDb([]);
    const check = createSessionCheck(db, 60);
    expect(await check.isLive("x'; drop table auth.sessions; --")).toBe(false);
    expect(queries).toHaveLength(0);
  });
});
