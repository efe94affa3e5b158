import { describe, expect, test } from 'vitest';
import { lineAt, splitSql } from '../../src/db/split-sql.js';

const texts = (sql: string) => splitSql(sql).map((s) => s.text);

describe('splitSql', () => {
  test.each([
    ['select 1; select 2;', ['select 1', 'select 2']],
    ['select 1', ['select 1']],
    ["select 'a;b'; select 2", ["select 'a;b'", 'select 2']],
    ["select 'it''s;'; select 2", ["select 'it''s;'", 'select 2']],
    ["select E'\\';'; select 2", ["select E'\\';'", 'select 2']],
    ['select "a;b" from t; select 2', ['select "a;b" from t', 'select 2']],
    [
      'create function f() returns int as $$ select 1; $$ language sql; select 2',
      ['create function f() returns int as $$ select 1; $$ language sql', 'select 2'],
    ],
    ['do $body$ begin perform 1; end $body$; select 2', ['do $body$ begin perform 1; end $body$', 'select 2']],
    ['select 1; -- a comment; with a semicolon\nselect 2', ['select 1', 'select 2']],
    ['select 1; /* block; /* nested; */ still; */ select 2', ['select 1', 'select 2']],
    ['-- only a comment\n;\n  ;', []],
    ['select $1; select 2', ['select $1', 'select 2']],
    ['select a$b; select 2', ['select a$b', 'select 2']],
    [
      'create function f() returns int language sql begin atomic select 1; select case when true then 1 end; end; select 2',
      [
        'create function f() returns int language sql begin atomic select 1; select case when true then 1 end; end',
        'select 2',
      ],
    ],
  ])('splits %j', (sql, expected) => {
    expect(texts(sql)).toEqual(expected);
  });

  test('records the line each statement starts on, after leading comments', () => {
    const sql = '-- header\ncreate table a (id int);\n\n/* note */\ninsert into a values (1);\n';
    expect(splitSql(sql).map((s) => [s.line, s.text])).toEqual([
      [2, 'create table a (id int)'],
      [5, 'insert into a values (1)'],
    ]);
  });

  test('an unterminated quote swallows the rest instead of splitting inside it', () => {
    expect(texts("select 'abc; select 2")).toEqual(["select 'abc; select 2"]);
  });

  test('lineAt counts newlines before an offset', () => {
    expect(lineAt('a\nb\nc', 0)).toBe(1);
    expect(lineAt('a\nb\nc', 2)).toBe(2);
    expect(lineAt('a\nb\nc', 4)).toBe(3);
  });
});
