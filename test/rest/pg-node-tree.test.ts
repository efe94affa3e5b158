import { describe, expect, test } from 'vitest';
import { parseNodeTree, viewColumnOrigins } from '../../src/rest/pg-node-tree.js';

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

describe('pg_node_tree', () => {
  test("a view's columns that are a table's columns, by number; constants and junk columns are not", () => {
    expect(viewColumnOrigins(VIEW)).toEqual([
      { column: 1, table: 16400, tableColumn: 2 },
      { column: 3, table: 16400, tableColumn: 3 },
    ]);
  });

  test('escaped spaces and braces stay inside a name', () => {
    const tree = parseNodeTree('{TARGETENTRY :resname one\\ two\\} :resno 2}');
    expect(tree).toEqual({
      node: 'TARGETENTRY',
      fields: new Map([
        ['resname', 'one two}'],
        ['resno', '2'],
      ]),
    });
  });

  test.each([
    ['empty', ''],
    ['truncated', '({QUERY :targetList ({TARGETENTRY :resno 1'],
    ['not a query', '({FROMEXPR :fromlist <>})'],
    ['no target list', '({QUERY :commandType 1 :targetList <>})'],
  ])('%s text gives no columns rather than an error', (_name, text) => {
    expect(viewColumnOrigins(text)).toEqual([]);
  });
});
