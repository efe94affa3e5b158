/**
 * Random and mutated query strings against parseReadQuery: each must give a well-formed ReadQuery
 * or a 400 ApiError, never another exception, never a hang. Seeded, so a failure replays: the
 * message names the input.
 */
import { expect, test } from 'vitest';
import { ApiError } from '../../src/errors.js';
import {
  FILTER_OPERATORS,
  type Condition,
  type Field,
  type OrderTerm,
  type ReadQuery,
  type SelectItem,
} from '../../src/rest/ast.js';
import { parseReadQuery } from '../../src/rest/parse.js';
import { mutate, pick, prng, randomQuery } from './fuzz-inputs.js';

const SEED = 0x7e11a5;
const MUTATED = 16_000;
const RANDOM = 6_000;

const VALID = [
  'select=*',
  'select=id,name,author:users!author_id(id,name),...rooms!inner(topic)&order=created_at.desc.nullslast&limit=50',
  'select=id,data->a->>b,data->0,total:count()::int,amount.sum(),amount.avg()::int,"my col"',
  'select=msg:messages!messages_room_id_fkey!left(id,body::text,author(name))&messages.order=id.desc&messages.limit=5&messages.offset=10',
  'id=eq.1&name=not.ilike.*bob*&tags=cs.{a,b}&data=cs.[1,2]&during=adj.[1,5)&x=is.not_null',
  'id=in.(1,2,"3,4","a\\"b")&name=not.in.()&tsv=fts(english).cat&tsv2=wfts.a b',
  'or=(a.eq.1,and(b.gt.2,c.not.lt.3),name.eq."x,(y)",tags.cs.{a,b})&not.and=(a.is.null,b.isdistinct.2)',
  'messages.or=(author_id.eq.1,not.or(id.in.(1,2),body.like(all).{a*,*b}))&messages.author_id=eq.1',
  'data->>name=eq.x&data->tags->0=eq."a"&a.b.c=eq.1&order=author(name).desc,data->k.asc&offset=3',
  'id=eq(any).{1,2,3}&n=gte(all).{"1", 2 }&r=sl.(1,10)&r=nxr.[2,3]&r=ov.{1}',
  'select=a-b,größe,$x,_y&columns=a,b&on_conflict=id&apikey=secret',
  'select="my col","an alias":"a column","a\\"b"("x y",data->"k e y")&"q col"=eq.1&order="o col".desc',
  'or=("a col".eq."v,1","b col".in.("x","y"))&"rel name"."c col"=is.null',
];

// ---- what a parsed query must look like: the right kind everywhere, names the planner can quote

const isName = (s: unknown) => typeof s === 'string' && s !== '' && !s.includes('\0');
const isCount = (n: unknown) => n === undefined || (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0);

function checkField(f: Field): void {
  if (!isName(f.name)) throw new Error(`bad field name ${JSON.stringify(f.name)}`);
  for (const step of f.jsonPath) {
    if (step.arrow !== '->' && step.arrow !== '->>') throw new Error('bad arrow');
    if (
      typeof step.key === 'number'
        ? !Number.isSafeInteger(step.key)
        : typeof step.key !== 'string' || step.key.includes('\0')
    ) {
      throw new Error(`bad JSON key ${String(step.key)}`);
    }
  }
}

function checkSelect(items: readonly SelectItem[]): void {
  for (const item of items) {
    switch (item.kind) {
      case 'star':
      case 'count':
        break;
      case 'column':
        checkField(item.field);
        break;
      case 'embed':
        if (!isName(item.relation) || typeof item.spread !== 'boolean') throw new Error('bad embed');
        checkSelect(item.select);
        break;
      default:
        throw new Error(`bad select kind ${JSON.stringify(item)}`);
    }
  }
}

function checkCondition(c: Condition): void {
  if (c.kind === 'logic') {
    if ((c.operator !== 'and' && c.operator !== 'or') || c.conditions.length === 0) throw new Error('bad logic');
    c.conditions.forEach(checkCondition);
    return;
  }
  if (c.kind !== 'filter' || !FILTER_OPERATORS.includes(c.operator) || typeof c.negate !== 'boolean')
    throw new Error('bad filter');
  checkField(c.field);
  const list = Array.isArray(c.value);
  if ((c.operator === 'in' || c.quantifier !== undefined) !== list) throw new Error(`bad operand for ${c.operator}`);
  if (list ? !c.value.every((v) => typeof v === 'string') : typeof c.value !== 'string') throw new Error('bad operand');
}

function checkOrder(t: OrderTerm): void {
  checkField(t.field);
  if (t.relation !== undefined && !isName(t.relation)) throw new Error('bad order relation');
}

function checkQuery(q: ReadQuery): void {
  checkSelect(q.select);
  for (const f of q.filters) {
    if (!f.path.every(isName)) throw new Error('bad path');
    checkCondition(f.condition);
  }
  for (const o of q.order) o.terms.forEach(checkOrder);
  for (const r of q.ranges) if (!isCount(r.limit) || !isCount(r.offset)) throw new Error('bad range');
}

/** 'parsed' (to a well-formed ReadQuery) or 'refused' (a 400); anything else says what went wrong. */
function verdict(qs: string): string {
  let query: ReadQuery;
  try {
    query = parseReadQuery(new URLSearchParams(qs));
  } catch (err) {
    if (err instanceof ApiError && err.status === 400 && err.code === 'PGRST100') return 'refused';
    return `threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
  }
  try {
    checkQuery(query);
    return 'parsed';
  } catch (err) {
    return `parsed to a malformed query (${(err as Error).message})`;
  }
}

test(`${MUTATED + RANDOM} random and mutated query strings give a ReadQuery or a 400`, () => {
  const random = prng(SEED);
  const inputs = [
    ...VALID,
    ...Array.from({ length: MUTATED }, () => mutate(random, pick<string>(random, VALID), VALID)),
    ...Array.from({ length: RANDOM }, () => randomQuery(random)),
  ];
  const started = performance.now();
  let parsed = 0;
  for (const qs of inputs) {
    const result = verdict(qs);
    if (result === 'parsed') parsed++;
    else if (result !== 'refused') expect.fail(`${JSON.stringify(qs)} ${result}`);
  }
  expect(performance.now() - started).toBeLessThan(5_000);
  // The valid examples, and many of their mutations, still parse: the fuzz reaches past the first error.
  expect(parsed).toBeGreaterThan(VALID.length + 1_000);
}, 30_000);

test('long hostile inputs parse in linear time', () => {
  // Each input at n and at 4n: linear parsing takes about 4 times as long, quadratic 16 times. The
  // ratio (best of three runs each) holds on a loaded machine, where a fixed time limit does not.
  const cases: [string, (n: number) => string][] = [
    ['a long select list', (n) => `select=${'a,'.repeat(n)}a`],
    ['deep embedding', (n) => `select=${'r('.repeat(n)}`],
    ['a long or list', (n) => `or=(${'a.eq.1,'.repeat(n / 2)}a.eq.1)`],
    ['deep not.and', (n) => `or=(${'not.and('.repeat(n)}`],
    ['escaped in-list', (n) => `id=in.(${'"a\\",'.repeat(n / 2)})`],
    ['escaped quantified list', (n) => `id=eq(any).{${'"\\"",'.repeat(n / 2)}}`],
    ['an unclosed quote', (n) => `select=${'"'.repeat(2 * n + 1)}`],
    ['a long json path', (n) => `order=${'a->'.repeat(n)}`],
    ['a long dotted name', (n) => `${'a.'.repeat(n)}b=eq.1`],
  ];
  const best = (qs: string) => {
    let fastest = Infinity;
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      expect(['parsed', 'refused'], qs.slice(0, 40)).toContain(verdict(qs));
      fastest = Math.min(fastest, performance.now() - started);
    }
    return fastest;
  };
  for (const [name, build] of cases) {
    const small = best(build(12_500));
    const large = best(build(50_000));
    // Under 100 ms at 50,000 repetitions is fast, whatever sub-millisecond noise does to the ratio;
    // a quadratic parser takes seconds there.
    if (large > 100)
      expect(large / Math.max(small, 0.5), `${name}: ${small.toFixed(1)} ms -> ${large.toFixed(1)} ms`).toBeLessThan(
        10,
      );
  }
});
