import { describe, expect, test } from 'vitest';
import { conditionSql } from '../../../src/realtime/changes/authorise.js';
import { parseFilter } from '../../../src/realtime/changes/filter.js';

describe('parseFilter', () => {
  test.each([
    [undefined, []],
    ['', []],
    ['id=eq.1', [{ column: 'id', op: 'eq', negate: false, value: '1' }]],
    ['room_id=neq.7', [{ column: 'room_id', op: 'neq', negate: false, value: '7' }]],
    ['n=lt.1', [{ column: 'n', op: 'lt', negate: false, value: '1' }]],
    ['n=lte.1', [{ column: 'n', op: 'lte', negate: false, value: '1' }]],
    ['n=gt.1', [{ column: 'n', op: 'gt', negate: false, value: '1' }]],
    ['n=gte.1.5', [{ column: 'n', op: 'gte', negate: false, value: '1.5' }]],
    ['status=in.(active,pending)', [{ column: 'status', op: 'in', negate: false, value: ['active', 'pending'] }]],
    ['name=in.("a,b",c,"d\\"e")', [{ column: 'name', op: 'in', negate: false, value: ['a,b', 'c', 'd"e'] }]],
    ['title=like.%foo%', [{ column: 'title', op: 'like', negate: false, value: '%foo%' }]],
    ['title=ilike.%FOO%', [{ column: 'title', op: 'ilike', negate: false, value: '%FOO%' }]],
    ['deleted_at=is.null', [{ column: 'deleted_at', op: 'is', negate: false, value: 'null' }]],
    ['flag=is.TRUE', [{ column: 'flag', op: 'is', negate: false, value: 'true' }]],
    ['code=match.^a[0-9]+$', [{ column: 'code', op: 'match', negate: false, value: '^a[0-9]+$' }]],
    ['code=imatch.^A', [{ column: 'code', op: 'imatch', negate: false, value: '^A' }]],
    ['x=isdistinct.3', [{ column: 'x', op: 'isdistinct', negate: false, value: '3' }]],
    ['status=not.in.(draft,archived)', [{ column: 'status', op: 'in', negate: true, value: ['draft', 'archived'] }]],
    ['name=eq."a,b"', [{ column: 'name', op: 'eq', negate: false, value: 'a,b' }]],
    ['body=eq.a=b.c', [{ column: 'body', op: 'eq', negate: false, value: 'a=b.c' }]],
    [
      'id=gt.0,id=lt.100',
      [
        { column: 'id', op: 'gt', negate: false, value: '0' },
        { column: 'id', op: 'lt', negate: false, value: '100' },
      ],
    ],
  ])('parses %s', (filter, conditions) => {
    expect(parseFilter(filter)).toEqual({ ok: true, conditions });
  });

  test.each([
    ['id', /is not of the form column=operator.value/],
    ['=eq.1', /is not of the form column=operator.value/],
    ['id=equals.1', /"equals" is not a supported operator \(use one of eq, neq/],
    ['id=cs.{1}', /"cs" is not a supported operator/],
    ['id=eq', /operator "eq" needs a value/],
    ['id=in.1,2', /"in" takes a list in parentheses/],
    ['id=in.()', /"in" needs at least one value/],
    [`id=in.(${Array.from({ length: 101 }, (_, i) => i).join(',')})`, /too many values for "in" \(at most 100\)/],
    ['id=is.maybe', /"is" takes null, true, false or unknown/],
    ['name=eq."open', /unbalanced quotes or parentheses/],
    ['id=in.(1,2', /unbalanced quotes or parentheses/],
  ])('refuses %s', (filter, message) => {
    const parsed = parseFilter(filter);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.message).toMatch(message);
    expect(!parsed.ok && parsed.message).toContain(`invalid filter "${filter}"`);
  });
});

describe('conditionSql', () => {
  test.each([
    [{ column: 'id', op: 'eq', negate: false, value: '1' }, 'coalesce($1::integer = $2::integer, false)'],
    [{ column: 'id', op: 'in', negate: true, value: ['1'] }, 'not coalesce($1::integer = any ($2::integer[]), false)'],
    [{ column: 'id', op: 'is', negate: false, value: 'null' }, 'coalesce($1::integer is null, false)'],
    [
      { column: 'id', op: 'isdistinct', negate: false, value: '1' },
      'coalesce($1::integer is distinct from $2::integer, false)',
    ],
    [{ column: 'id', op: 'ilike', negate: false, value: 'a%' }, 'coalesce($1::integer ~~* $2::integer, false)'],
  ] as const)('%j', (condition, sql) => {
    expect(conditionSql(condition, 'integer', '$1', '$2')).toBe(sql);
  });
});
