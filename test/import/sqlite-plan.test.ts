/** The pure parts of `trellis import`: type decisions, defaults, expressions, CHECK parsing, source detection. */
import { describe, expect, test } from 'vitest';
import { detectSource } from '../../src/import/index.js';
import { converter } from '../../src/import/convert.js';
import { planImport } from '../../src/import/sqlite-plan.js';
import { emptyProfile, parseDateText, profileValue, type ColumnProfile } from '../../src/import/sqlite-profile.js';
import type { SqliteSchema, SqliteTable } from '../../src/import/sqlite-schema.js';
import { translateExpression } from '../../src/import/sqlite-expr.js';
import { parseChecks, parseIndexWhere, tokenize } from '../../src/import/sqlite-sql.js';
import { affinity, decideType, translateDefault } from '../../src/import/sqlite-types.js';

function profile(values: unknown[]): ColumnProfile {
  const p = emptyProfile();
  values.forEach((v, i) => profileValue(p, v, () => `rowid ${i + 1}`));
  return p;
}

const decide = (declared: string, values: unknown[], rowidAlias = false) =>
  decideType({ declared, rowidAlias }, profile(values));

describe('type decisions', () => {
  test.each([
    ['INTEGER', [1n, 2n], 'bigint'],
    ['INTEGER', [1n, 1.5], 'numeric'],
    ['INTEGER', [1n, 'abc'], 'text'],
    ['REAL', [1.5, 2n], 'double precision'],
    ['FLOAT', [0.25], 'double precision'],
    ['DOUBLE', [0.25], 'double precision'],
    ['DECIMAL(10,2)', [12.5, 3n], 'numeric(10,2)'],
    ['NUMERIC', [12.5], 'numeric'],
    ['TEXT', ['a', 'b'], 'text'],
    ['VARCHAR(5)', ['abc', 'héllo'], 'varchar(5)'],
    ['VARCHAR(3)', ['abcd'], 'text'],
    ['CHAR(2)', ['ab'], 'varchar(2)'],
    ['BLOB', [Buffer.from([0, 1])], 'bytea'],
    ['BOOLEAN', [0n, 1n, null], 'boolean'],
    ['BOOL', ['true', 'FALSE'], 'boolean'],
    ['BOOLEAN', [0n, 2n], 'bigint'],
    ['DATETIME', ['2025-12-01 10:00:00', '2025-12-01T10:00:00.123Z'], 'timestamptz'],
    ['TIMESTAMP', [1733040000n, '2025-12-01 10:00:00+02:00'], 'timestamptz'],
    ['DATE', ['2025-12-01', '2024-02-29'], 'date'],
    ['TEXT', ['2025-12-01', '2025-12-02'], 'date'],
    ['TEXT', ['2025-12-01 10:00:00', 'tomorrow'], 'text'],
    ['DATETIME', ['2025-02-30 10:00:00'], 'text'],
    ['TEXT', [1733040000n], 'text'],
    ['JSON', ['{"a":1}', '[1,2]'], 'jsonb'],
    ['TEXT', ['{"a":1}', '{"b":[true]}'], 'jsonb'],
    ['TEXT', ['{"a":1}', 'plain'], 'text'],
    ['JSON', ['"a string"'], 'text'],
    ['TEXT', ['{"a":"\\u0000"}'], 'text'],
    ['UUID', ['6f1c1f0e-8a47-4c1b-9a53-2d3f1b9c0a01'], 'uuid'],
    ['', [1n, 2n], 'bigint'],
    ['', [1n, 2.5], 'double precision'],
    ['', ['x', 1n], 'text'],
    ['', [], 'text'],
    ['DATETIME', [], 'timestamptz'],
    ['MONEY', [1n, 2.5], 'numeric'],
  ] as [string, unknown[], string][])('%# %s → %s', (declared, values, type) => {
    expect(decide(declared, values).type).toBe(type);
  });

  test('INTEGER PRIMARY KEY is the rowid: bigint identity', () => {
    const d = decide('INTEGER', [1n, 2n], true);
    expect(d.type).toBe('bigint');
    expect(d.reason).toMatch(/identity/);
  });

  test('a value that disagrees with the declared type is named with its row', () => {
    const d = decide('INTEGER', [1n, 2n, 'abc']);
    expect(d).toMatchObject({ type: 'text', warning: true });
    expect(d.reason).toBe("declared INTEGER but rowid 3 holds 'abc': text");
  });

  test('the first value that is not a date is named', () => {
    expect(decide('DATETIME', ['2025-12-01 10:00:00', 'soon']).reason).toMatch(/rowid 2 holds 'soon', not a date/);
  });

  test('zone-less date-times are said to be read as UTC', () => {
    expect(decide('TEXT', ['2025-12-01 10:00:00']).reason).toMatch(/1 without a zone read as UTC/);
  });

  test('a varchar whose values do not fit is text, and says so', () => {
    expect(decide('VARCHAR(2)', ['abc']).reason).toMatch(/longest value has 3 characters/);
  });

  test.each([
    ['INT', 'INTEGER'],
    ['BIGINT', 'INTEGER'],
    ['NVARCHAR(10)', 'TEXT'],
    ['CLOB', 'TEXT'],
    ['', 'BLOB'],
    ['FLOATING POINT', 'INTEGER'],
    ['DECIMAL', 'NUMERIC'],
  ])('affinity of %j is %s', (declared, expected) => expect(affinity(declared)).toBe(expected));

  test.each([
    ['2025-12-01', 'date'],
    ['2025-12-01 10:00', 'datetime'],
    ['2025-12-01T10:00:00.5+01:00', 'datetime'],
    ['2025-13-01', undefined],
    ['2025-12-01 25:00:00', undefined],
    ['12/01/2025', undefined],
  ])('parseDateText(%j) is %s', (text, kind) => expect(parseDateText(text)?.kind).toBe(kind));
});

describe('defaults', () => {
  test.each([
    ['CURRENT_TIMESTAMP', 'timestamptz', 'timestamptz', 'now()'],
    ["(datetime('now'))", 'timestamptz', 'timestamptz', 'now()'],
    ['CURRENT_TIMESTAMP', 'text', 'text', "to_char(now() at time zone 'utc', 'YYYY-MM-DD HH24:MI:SS')"],
    ['CURRENT_DATE', 'date', 'date', 'current_date'],
    ["strftime('%s','now')", 'bigint', 'bigint', 'extract(epoch from now())::bigint'],
    ['0', 'boolean', 'boolean', 'false'],
    ['TRUE', 'boolean', 'boolean', 'true'],
    ['-1', 'bigint', 'bigint', '-1'],
    ['1.5', 'double precision', 'double', '1.5'],
    ["'pending'", 'text', 'text', "'pending'"],
    ["'it''s'", 'text', 'text', "'it''s'"],
    ["'{}'", 'jsonb', 'jsonb', "'{}'::jsonb"],
    ["'2025-01-01 00:00:00'", 'timestamptz', 'timestamptz', "'2025-01-01 00:00:00+00'"],
    ["X'00ff'", 'bytea', 'bytea', "'\\x00ff'::bytea"],
  ] as const)('%s for %s → %s', (expression, type, convert, sql) => {
    expect(translateDefault(expression, type, convert)).toEqual({ sql });
  });

  test('NULL is no default', () => expect(translateDefault('NULL', 'text', 'text')).toEqual({}));

  test.each([
    ['(random() % 100)', 'bigint', 'bigint'],
    ["'abc'", 'bigint', 'bigint'],
    ["datetime('now', 'localtime')", 'timestamptz', 'timestamptz'],
  ] as const)('%s for %s is dropped with a reason', (expression, type, convert) => {
    expect(translateDefault(expression, type, convert)).toHaveProperty('error', expect.stringMatching(/dropped/));
  });
});

describe('expressions (CHECK, partial index WHERE)', () => {
  const columns = new Map([
    ['status', 'text'],
    ['is_file', 'boolean'],
    ['Amount', 'numeric'],
    ['we"ird', 'text'],
  ]);
  const tr = (sql: string) => translateExpression(tokenize(sql) ?? [], columns);
  test.each([
    ["status IN ('a', 'b')", `"status" in ('a', 'b')`],
    ['is_file = 1', `"is_file" = true`],
    ['is_file == 0', `"is_file" = false`],
    ['amount >= 0 AND amount < 100', `"Amount" >= 0 and "Amount" < 100`],
    ['length(status) > 0', `char_length("status") > 0`],
    ['status IS NOT NULL', `"status" is not null`],
    ["status LIKE 'a%'", `"status" ilike 'a%'`],
    ['"we""ird" <> \'x\'', `"we""ird" <> 'x'`],
    ['amount BETWEEN 1 AND 5', `"Amount" between 1 and 5`],
    ["status <> 'a ( b , c )'", `"status" <> 'a ( b , c )'`],
  ])('%s → %s', (sql, expected) => expect(tr(sql)).toEqual({ sql: expected }));

  test.each([
    ["typeof(status) = 'text'", /the function "typeof"/],
    ["status GLOB 'a*'", /the unknown name "GLOB"/],
    ['other > 1', /the unknown name "other"/],
    ['"nope" = 1', /the unknown column "nope"/],
    ['is_file = 2', /a boolean compared with "2"/],
    ["status = x'00'", /blob/],
  ])('%s is refused', (sql, why) => expect(tr(sql)).toEqual({ error: expect.stringMatching(why) }));

  test('an injection attempt in a name stays a quoted name', () => {
    const t = translateExpression(
      tokenize('"x""); drop table users; --" > 0') ?? [],
      new Map([['x"); drop table users; --', 'bigint']]),
    );
    expect(t).toEqual({ sql: `"x""); drop table users; --" > 0` });
  });
});

describe('SQLite SQL text', () => {
  test('CHECKs of columns and of the table, named or not', () => {
    const checks = parseChecks(
      `CREATE TABLE t (a INTEGER CHECK (a > 0), b TEXT, "c d" TEXT CONSTRAINT c_ok CHECK ("c d" <> ''), CHECK (a < 10 OR b IS NULL))`,
    );
    expect(checks.map((c) => [c.name, c.column, c.tokens.length])).toEqual([
      [undefined, 'a', 3],
      ['c_ok', 'c d', 3],
      [undefined, undefined, 7],
    ]);
  });

  test('a partial index WHERE', () => {
    expect(parseIndexWhere(`CREATE INDEX i ON t (a) WHERE a > 0;`)?.map((t) => t.text)).toEqual(['a', '>', '0']);
    expect(parseIndexWhere(`CREATE INDEX i ON t (a)`)).toBeUndefined();
  });

  test('quotes of every kind, comments and an open quote', () => {
    expect(tokenize(`[a b] "c""d" \`e\` 'f''g' -- x\n/* y */ 1.5e3`)?.map((t) => t.text)).toEqual([
      'a b',
      'c"d',
      'e',
      "f'g",
      '1.5e3',
    ]);
    expect(tokenize(`'open`)).toBeUndefined();
  });
});

describe('source detection', () => {
  test.each([
    [Buffer.from('SQLite format 3\u0000rest', 'latin1'), 'sqlite'],
    [Buffer.from('PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE t(a);'), 'sql-dump'],
    [Buffer.from('PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE t(a);'), 'sql-dump'],
    [Buffer.from('--\n-- PostgreSQL database dump\n--\n'), 'pg-dump'],
  ])('%#: %s', (head, kind) => expect(detectSource(head)).toBe(kind));

  test.each([
    [Buffer.alloc(0), /empty/],
    [Buffer.from('SQLite for', 'latin1'), /truncated/],
    [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0]), /neither a SQLite database/],
    [Buffer.from('hello world, just some notes'), /neither a SQLite database nor a SQL dump/],
  ])('%#: refused', (head, why) => expect(detectSource(head)).toEqual({ error: expect.stringMatching(why) }));
});

describe('plans', () => {
  const table = (over: Partial<SqliteTable>): SqliteTable => ({
    name: 't',
    sql: 'CREATE TABLE t (id INTEGER PRIMARY KEY)',
    withoutRowid: false,
    autoincrement: false,
    columns: [{ name: 'id', declared: 'INTEGER', notNull: false, defaultSql: null, pk: 1, generated: false }],
    foreignKeys: [],
    indexes: [],
    rowCount: 0,
    profiles: new Map(),
    ...over,
  });
  const plan = (tables: SqliteTable[], users?: Parameters<typeof planImport>[1]['users']) =>
    planImport({ tables, skipped: [] } satisfies SqliteSchema, { schema: 'public', ...(users ? { users } : {}) });

  test('names with quotes and unicode are quoted, never spliced', () => {
    const p = plan([
      table({
        name: 'bad"; drop table x; --',
        columns: [{ name: 'naïve "col"', declared: 'TEXT', notNull: true, defaultSql: "'x'", pk: 0, generated: false }],
      }),
    ]);
    expect(p.tables[0]?.create).toBe(
      `create table "public"."bad""; drop table x; --" ("naïve ""col""" text not null default 'x')`,
    );
    expect(p.notes.some((n) => n.message.startsWith('no primary key'))).toBe(true);
  });

  test('a NUL in a name is refused', () => {
    expect(() => plan([table({ name: 'a\u0000b' })])).toThrow(/NUL/);
  });

  test('a NUL in a text value is refused with its row, before anything is written', () => {
    const p = new Map([
      ['id', profile([1n])],
      ['body', profile(['ok', 'a\u0000b'])],
    ]);
    const t = table({
      columns: [
        { name: 'id', declared: 'INTEGER', notNull: false, defaultSql: null, pk: 1, generated: false },
        { name: 'body', declared: 'TEXT', notNull: false, defaultSql: null, pk: 0, generated: false },
      ],
      profiles: p,
    });
    expect(() => plan([t])).toThrow(/table "t", column "body": rowid 2 holds a NUL character/);
  });

  test('--users-table naming a missing column lists the columns', () => {
    expect(() =>
      plan([table({ name: 'users' })], { table: 'users', emailColumn: 'mail', passwordColumn: 'pw', idColumn: 'id' }),
    ).toThrow(/table "users" has no column "mail" \(columns: id\)/);
  });

  test('integer user ids keep their column and gain a uuid link to auth.users', () => {
    const cols = ['id', 'email', 'pw'].map((name, i) => ({
      name,
      declared: i === 0 ? 'INTEGER' : 'TEXT',
      notNull: false,
      defaultSql: null,
      pk: i === 0 ? 1 : 0,
      generated: false,
    }));
    const p = plan([table({ name: 'users', columns: cols, profiles: new Map([['id', profile([1n, 2n])]]) })], {
      table: 'users',
      emailColumn: 'email',
      passwordColumn: 'pw',
      idColumn: 'id',
    });
    const create = p.tables[0]?.create ?? '';
    expect(create).toContain('"user_id" uuid not null unique references auth.users (id) on delete cascade');
    expect(create).not.toContain('"pw"');
    expect(p.tables[0]?.users).toMatchObject({ mode: 'integer', linkColumn: 'user_id' });
  });
});

describe('values for COPY', () => {
  test.each([
    ['boolean', 1n, true],
    ['boolean', 0, false],
    ['boolean', 'TRUE', true],
    ['timestamptz', 1733040000n, new Date('2024-12-01T08:00:00Z')],
    ['timestamptz', '2025-12-01 10:00:00', '2025-12-01 10:00:00'],
    ['text', 2.0, '2.0'],
    ['text', 12n, '12'],
    ['text', Buffer.from([0xde, 0xad]), '\\xdead'],
    ['bytea', 'hi', Buffer.from('hi')],
    ['numeric', 1.25, '1.25'],
    ['uuid', 'ABCDEF00-0000-4000-8000-000000000000', 'abcdef00-0000-4000-8000-000000000000'],
    ['text', null, null],
  ] as const)('%s: %s', (convert, value, expected) => {
    expect(converter(convert)(value)).toEqual(expected);
  });
});
