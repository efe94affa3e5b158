/**
 * Random and mutated query strings through the parser, the planner and a real PostgreSQL, as anon
 * and as a signed-in user, on a schema with embeddable relations. Every input must end as a plan
 * PostgreSQL accepts as SQL (any error it raises is about data or permissions, never a syntax
 * error, which would mean the planner wrote broken SQL) or as one of our 4xx errors, and nothing
 * outside the intended read may happen: a canary table stays as it was.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Db } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { ApiError } from '../../src/errors.js';
import { parseReadQuery } from '../../src/rest/parse.js';
import { planRead } from '../../src/rest/plan-read.js';
import { planDelete, planInsert, planUpdate } from '../../src/rest/plan-write.js';
import { loadSchemaCache, type SchemaCache } from '../../src/rest/schema.js';
import { freshDatabase, testDb, type TestDatabase } from '../helpers/db.js';
import { mutate, prng, randomQuery } from './fuzz-inputs.js';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const SCHEMA = `
create table users (id int primary key, name text, data jsonb default '{}');
create table rooms (id int primary key, topic text, owner_id int references users (id));
create table m (id int primary key, a int, b text, c text, x int, author_id int references users (id), room_id int references rooms (id), data jsonb, tags text[], during int4range, tsv tsvector);
create table canary (value text not null);
insert into canary values ('intact');
insert into users values (1, 'ann', '{"x": 1}'), (2, 'bob', '{"x": [1, 2]}');
insert into rooms values (1, 'general', 1);
insert into m values (1, 1, 'b', 'c', 1, 1, 1, '{"x": "y", "k": {"e": 1}}', '{a,b}', '[1,5)', to_tsvector('cat sat'));
grant select, insert, update, delete on users, rooms, m to anon, authenticated;
`;

let database: TestDatabase;
let db: Db;
let cache: SchemaCache;

beforeAll(async () => {
  database = await freshDatabase();
  db = testDb(database.url, { statementTimeoutMs: 2000 });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-plan-fuzz-'));
  await fs.writeFile(path.join(dir, '20240101000000_fuzz.sql'), SCHEMA);
  await migrate(db, dir, { dryRun: false, onProgress: () => undefined });
  await fs.rm(dir, { recursive: true });
  cache = await loadSchemaCache(db, ['public']);
});
afterAll(async () => {
  await db?.close();
  await database?.drop();
});

const TABLES = ['users', 'rooms', 'm'];

/** Valid requests on this schema, which mutations bend into near-misses. */
const VALID = [
  'select=*',
  'select=id,b,author:users!author_id(id,name),rooms!inner(topic)&order=id.desc.nullslast&limit=5',
  'select=id,data->x->>e,data->0,c::text,x:a::int&a=gte.1&b=not.ilike.*x*',
  'select=id,m(id,b,users(name))&m.order=id.desc&m.limit=2&m.offset=1&m.b=eq.b',
  'id=eq.1&b=not.like.*b*&tags=cs.{a,b}&data=cs.{"x":"y"}&during=adj.[5,7)&c=is.not_null',
  'id=in.(1,2,"3")&b=not.in.()&tsv=fts(english).cat&tsv=wfts.cat sat&tsv=plfts.cat&tsv=phfts(simple).cat',
  'or=(a.eq.1,and(x.gt.0,c.not.lt.z),b.eq."x,(y)",tags.cs.{a})&not.and=(a.is.null,x.isdistinct.2)',
  'data->>x=eq.y&data->k->e=eq.1&order=users(name).desc,data->k.asc&offset=0',
  'id=eq(any).{1,2,3}&x=gte(all).{0,1}&during=sl.[10,20)&during=nxr.[0,3)&during=ov.[1,2)',
];
/** Requests for the other tables. */
const OTHER: Record<string, string[]> = {
  users: [
    'select=id,name,data&name=match.^a&name=imatch.B$&id=lte.5&id=neq.3',
    'select=name,rooms(topic),m(b)&data->>x=eq.1&order=name',
  ],
  rooms: [
    'select=topic,owner:users(name,data->>x)&owner_id=not.is.null',
    'select=*,m!inner(id)&m.a=eq.1&topic=like.g*',
  ],
};
const ITERATIONS = 1500;

class Rollback extends Error {}

test(`${ITERATIONS} fuzzed reads and writes plan to valid SQL or a 4xx, and touch nothing else`, async () => {
  const random = prng(0x5eed);
  const outcomes = { executed: 0, rejected: 0, dataErrors: 0 };
  for (let i = 0; i < ITERATIONS; i++) {
    const table = TABLES[Math.floor(random() * TABLES.length)] ?? 'm';
    const examples = OTHER[table] ?? VALID;
    const example = examples[Math.floor(random() * examples.length)] ?? '';
    const roll = random();
    const input = roll < 0.3 ? example : roll < 0.85 ? mutate(random, example, examples) : randomQuery(random);
    const relation = cache.relation('public', table);
    if (!relation) throw new Error('schema cache lost a table');
    const kind = random();
    let plan;
    try {
      const query = parseReadQuery(new URLSearchParams(input));
      const body = { [input.slice(0, 8)]: input.slice(8, 20), name: 'n' };
      const write = {
        cache,
        relation,
        query,
        prefer: {},
        representation: random() < 0.5,
        location: random() < 0.3,
        maxRows: 100,
        maxBytes: 1_000_000,
      };
      plan =
        kind < 0.7
          ? planRead(cache, relation, query, {
              count: random() < 0.3 ? 'exact' : random() < 0.3 ? 'estimated' : undefined,
              maxRows: 100,
            })
          : kind < 0.8
            ? planInsert(write, body, undefined, undefined)
            : kind < 0.9
              ? planUpdate(write, body)
              : planDelete(write);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status < 300 || err.status >= 500) {
        throw new Error(`input ${JSON.stringify(input)} threw ${String(err)}`);
      }
      outcomes.rejected++;
      continue;
    }
    const role = random() < 0.5 ? 'anon' : 'authenticated';
    try {
      await db.withClaims({ role, sub: 'fuzz' }, async (tx) => {
        await tx.query(plan.text, plan.values);
        throw new Rollback();
      });
    } catch (err) {
      if (err instanceof Rollback) {
        outcomes.executed++;
        continue;
      }
      const code = (err as { code?: string }).code ?? '';
      // A syntax error in the statement carries a position; 42601 from to_tsquery's input does not.
      const inStatement = (err as { position?: string }).position !== undefined;
      if ((code === '42601' && inStatement) || code.startsWith('XX') || code === '') {
        throw new Error(
          `input ${JSON.stringify(input)} on ${table} produced broken SQL (${code}): ${(err as Error).message}\n${plan.text}`,
        );
      }
      outcomes.dataErrors++;
    }
  }
  const canary = await db.query<{ value: string }>('select value from canary');
  expect(canary.rows).toEqual([{ value: 'intact' }]);
  // The run is only meaningful if a good share of inputs reached PostgreSQL.
  expect(outcomes.executed + outcomes.dataErrors).toBeGreaterThan(ITERATIONS / 10);
  console.log(`plan fuzz: ${JSON.stringify(outcomes)}`);
}, 120_000);
