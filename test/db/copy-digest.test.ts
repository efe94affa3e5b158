/** COPY in and between connections, and the per-table digests a move or a restore is checked by. */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  compareDigests,
  copyRowsIn,
  copyTableBetween,
  copyTextRow,
  CopyValueError,
  digestTables,
  listTables,
} from '../../src/db/index.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

describe('copyTextRow', () => {
  test.each([
    ['null and undefined', [null, undefined], '\\N\t\\N\n'],
    ['plain text', ['hello'], 'hello\n'],
    ['escapes', ['a\tb\nc\rd\\e'], 'a\\tb\\nc\\rd\\\\e\n'],
    ['numbers and bigints', [1.5, -2, 10n ** 20n], '1.5\t-2\t100000000000000000000\n'],
    ['non-finite numbers', [NaN, Infinity, -Infinity], 'NaN\tInfinity\t-Infinity\n'],
    ['booleans', [true, false], 't\tf\n'],
    ['a date', [new Date('2026-01-02T03:04:05.678Z')], '2026-01-02T03:04:05.678Z\n'],
    ['bytes', [Buffer.from([0, 255, 16])], '\\\\x00ff10\n'],
    ['json', [{ a: 'x\ty' }, [1, 2]], '{"a":"x\\\\ty"}\t[1,2]\n'],
  ])('%s', (_name, values, line) => {
    expect(copyTextRow(values)).toBe(line);
  });

  test('refuses a NUL character and names the column', () => {
    expect(() => copyTextRow(['ok', 'bad\u0000'])).toThrow(
      new CopyValueError('column 2: text holds a NUL character, which PostgreSQL text cannot store'),
    );
  });
});

describe('against PostgreSQL', () => {
  let source: TestDatabase;
  let target: TestDatabase;
  let a: pg.Client;
  let b: pg.Client;

  beforeAll(async () => {
    [source, target] = await Promise.all([freshDatabase(), freshDatabase()]);
    a = new pg.Client({ connectionString: source.url });
    b = new pg.Client({ connectionString: target.url });
    await Promise.all([a.connect(), b.connect()]);
    const ddl = `create schema "we""ird";
      create table "we""ird"."t a" (id bigint generated always as identity primary key, body text, data jsonb,
        raw bytea, at timestamptz, ok boolean, n numeric, f float8, r text);`;
    await a.query(ddl);
    await b.query(ddl);
  });

  afterAll(async () => {
    await Promise.all([a?.end(), b?.end()]);
    await Promise.all([source?.drop(), target?.drop()]);
  });

  const table = { schema: 'we"ird', table: 't a' };
  const columns = ['id', 'body', 'data', 'raw', 'at', 'ok', 'n', 'f', 'r'];

  test('copyRowsIn writes every row exactly, in batches, into an identity column too', async () => {
    function* rows() {
      for (let i = 1; i <= 5000; i++)
        yield [
          i,
          `line ${i}\twith\ttabs\nand "quotes" \\ ${'x'.repeat(i % 50)}`,
          { i, s: 'é\n' },
          Buffer.from([i % 256, 0]),
          new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
          i % 2 === 0,
          `${i}.25`,
          i / 3,
          i % 7 === 0 ? null : 'r',
        ];
    }
    const batches: number[] = [];
    const n = await copyRowsIn(a, table, columns, rows(), (k) => batches.push(k));
    expect(n).toBe(5000);
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.reduce((x, y) => x + y, 0)).toBe(5000);
    const { rows: back } = await a.query(`select body, data, raw, ok, n::text, r from "we""ird"."t a" where id = 14`);
    expect(back[0]).toEqual({
      body: `line 14\twith\ttabs\nand "quotes" \\ ${'x'.repeat(14)}`,
      data: { i: 14, s: 'é\n' },
      raw: Buffer.from([14, 0]),
      ok: true,
      n: '14.25',
      r: null,
    });
  });

  test('a bad row rejects and names the row; the caller rolls back', async () => {
    await a.query('begin');
    await expect(
      copyRowsIn(a, table, columns, [
        [9001, 'fine'],
        [9002, 'nul\u0000'],
      ]),
    ).rejects.toThrow(/row 2, column 2: text holds a NUL/);
    await a.query('rollback');
    const { rows } = await a.query(`select count(*)::int as n from "we""ird"."t a" where id > 9000`);
    expect(rows[0].n).toBe(0);
  });

  test('copyTableBetween copies a table exactly; digests agree, and tell a changed row apart', async () => {
    let bytes = 0;
    const copied = await copyTableBetween(a, b, table, columns, (n) => (bytes += n));
    expect(copied).toBeGreaterThan(100_000);
    expect(bytes).toBe(copied);

    const tables = await listTables(a, ['we"ird']);
    expect(tables).toEqual([table]);
    const left = await digestTables(a, tables);
    const right = await digestTables(b, tables);
    expect(left[0]?.rows).toBe(5000);
    expect(compareDigests(left, right)).toEqual([]);

    // Another session setting must not change the digest: the function fixes the output settings.
    await b.query(`set timezone = 'Asia/Tokyo'; set extra_float_digits = 0; set bytea_output = 'escape'`);
    expect(await digestTables(b, tables)).toEqual(right);

    await b.query(`update "we""ird"."t a" set f = f + 1e-9 where id = 4000`);
    const changed = await digestTables(b, tables);
    expect(changed[0]?.rows).toBe(5000);
    expect(compareDigests(left, changed)).toEqual([{ table: 'we"ird.t a', left: left[0], right: changed[0] }]);
    expect(compareDigests(left, [])).toEqual([{ table: 'we"ird.t a', left: left[0], right: undefined }]);
  });

  test("digests inside a caller's transaction see its snapshot and leave its settings alone", async () => {
    await a.query(`begin isolation level repeatable read; set local timezone = 'America/Lima'`);
    const before = await digestTables(a, [table]);
    const other = new pg.Client({ connectionString: source.url });
    await other.connect();
    try {
      // COPY gave the ids, so the identity sequence is not past them: a copier must advance it.
      await other.query(
        `insert into "we""ird"."t a" (id, body) overriding system value values (6000, 'after the snapshot')`,
      );
    } finally {
      await other.end();
    }
    expect(await digestTables(a, [table])).toEqual(before);
    const { rows } = await a.query('show timezone');
    expect(rows[0].TimeZone).toBe('America/Lima');
    await a.query('commit');
    expect((await digestTables(a, [table]))[0]?.rows).toBe(5001);
  });
});
