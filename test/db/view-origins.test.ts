/** Reading where a view's columns come from out of its stored query text (pg_rewrite.ev_action). */
import { describe, expect, test } from 'vitest';
import { viewColumnOrigins } from '../../src/db/view-origins.js';

// Shaped like pg_rewrite.ev_action for `create view v as select s.a, 1 as "one two", s.b from
// (select a, b from t) s order by s.a`: the subquery in the range table has its own target list,
// which must not be read as the view's.
const VIEW = [
  '({QUERY :commandType 1 :utilityStmt <> :cteList <>',
  ' :rtable ({RANGETBLENTRY :alias {ALIAS :aliasname s :colnames <>} :eref {ALIAS :aliasname s :colnames ("a" "b")}',
  '   :rtekind 1 :subquery {QUERY :commandType 1 :targetList ({TARGETENTRY :expr {VAR :varno 1} :resno 1',
  '   :resname a :resorigtbl 999 :resorigcol 7 :resjunk false})}})',
  ' :jointree {FROMEXPR :fromlist ({RANGETBLREF :rtindex 1}) :quals <>}',
  ' :targetList ({TARGETENTRY :expr {VAR :varno 1 :varattno 1} :resno 1 :resname a :resorigtbl 16400 :resorigcol 2 :resjunk false}',
  '  {TARGETENTRY :expr {CONST :consttype 23 :constlen 4 :constbyval true :constisnull false :constvalue 4 [ 1 0 0 0 ]}',
  '   :resno 2 :resname one\\ two :resorigtbl 0 :resorigcol 0 :resjunk false}',
  '  {TARGETENTRY :expr {VAR :varno 1 :varattno 2} :resno 3 :resname b\\{x\\} :resorigtbl 16400 :resorigcol 3 :resjunk false}',
  '  {TARGETENTRY :expr {VAR :varno 1 :varattno 1} :resno 4 :resname <> :resorigtbl 16400 :resorigcol 2 :resjunk true})',
  ' :sortClause ({SORTGROUPCLAUSE :tleSortGroupRef 1})})',
].join('');

const entry = (resno: number, name: string, table: number, column: number, junk = false) =>
  `{TARGETENTRY :expr {VAR :varno 1 :varattno ${column} :vartype 23 :location 7} :resno ${resno} :resname ${name} :ressortgroupref 0 :resorigtbl ${table} :resorigcol ${column} :resjunk ${junk}}`;
const query = (targets: string[], rtable = '<>') =>
  `({QUERY :commandType 1 :utilityStmt <> :rtable ${rtable} :targetList (${targets.join(' ')}) :override 0 :sortClause <>})`;

describe('viewColumnOrigins', () => {
  test('plain columns name their relation and column; computed ones have none', () => {
    expect(viewColumnOrigins(query([entry(1, 'id', 100, 1), entry(2, 'n', 0, 0), entry(3, 'x', 100, 4)]))).toEqual([
      { column: 1, relationOid: 100, relationColumn: 1 },
      { column: 3, relationOid: 100, relationColumn: 4 },
    ]);
  });

  test("only the view's own output: a subquery's target list and junk entries are not its columns", () => {
    const subquery = `({RANGETBLENTRY :rtekind 1 :subquery ${query([entry(1, 'inner', 200, 9)]).slice(1, -1)}})`;
    expect(viewColumnOrigins(query([entry(1, 'id', 100, 1), entry(2, 'sortkey', 100, 2, true)], subquery))).toEqual([
      { column: 1, relationOid: 100, relationColumn: 1 },
    ]);
  });

  test('escaped names and constants with raw bytes do not derail the reading', () => {
    const constant = `{TARGETENTRY :expr {CONST :consttype 25 :constlen -1 :constbyval false :constisnull false :location 9 :constvalue 9 [ 36 0 0 0 123 120 125 ]} :resno 1 :resname k\\{x\\} :resorigtbl 0 :resorigcol 0 :resjunk false}`;
    expect(viewColumnOrigins(query([constant, entry(2, 'the\\ id', 100, 1), entry(3, 'par\\}ent', 100, 7)]))).toEqual([
      { column: 2, relationOid: 100, relationColumn: 1 },
      { column: 3, relationOid: 100, relationColumn: 7 },
    ]);
  });

  test('text that is no stored query has no origins', () => {
    for (const text of ['', '<>', '({SELECT})', '(((', '{QUERY :targetList'])
      expect(viewColumnOrigins(text)).toEqual([]);
  });

  test("a view over a subquery: the view's own target list, by number; constants and junk columns are not", () => {
    expect(viewColumnOrigins(VIEW)).toEqual([
      { column: 1, relationOid: 16400, relationColumn: 2 },
      { column: 3, relationOid: 16400, relationColumn: 3 },
    ]);
  });

  test.each([
    ['empty', ''],
    ['truncated', '({QUERY :targetList ({TARGETENTRY :resno 1'],
    ['not a query', '({FROMEXPR :fromlist <>})'],
    ['no target list', '({QUERY :commandType 1 :targetList <>})'],
  ])('%s text gives no columns rather than an error', (_name, text) => {
    expect(viewColumnOrigins(text)).toEqual([]);
  });

  test('a query nested deeper than the stack gives no columns rather than an error', () => {
    const deep = '{OPEXPR :args ('.repeat(20_000) + '<>' + ')}'.repeat(20_000);
    expect(viewColumnOrigins(query([entry(1, 'id', 100, 1)]).replace(':sortClause <>', `:sortClause ${deep}`))).toEqual(
      [],
    );
  });
});
