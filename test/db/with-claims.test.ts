import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/pool.js';
import { freshDatabase, testDb, type TestDatabase } from '../helpers/db.js';

let database: TestDatabase;
let db: Db;
const alice = '00000000-0000-4000-8000-00000000000a';
const bob = '00000000-0000-4000-8000-00000000000b';
const user = (sub: string) => ({ role: 'authenticated', sub, email: `${sub.slice(-1)}@example.com`, aal: 'aal1' });

beforeAll(async () => {
  database = await freshDatabase();
  db = testDb(database.url, { max: 2 });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-claims-'));
  await fs.writeFile(
    path.join(dir, '20240101000000_todos.sql'),
    `create table todos (id serial primary key, owner uuid not null default auth.uid(), title text not null);
     alter table todos enable row level security;
     create policy "own rows" on todos for all to authenticated using (owner = auth.uid()) with check (owner = auth.uid());
     insert into todos (owner, title) values ('${alice}', 'alice 1'), ('${alice}', 'alice 2'), ('${bob}', 'bob 1');`,
  );
  await migrate(db, dir, { dryRun: false, onProgress: () => undefined });
  await fs.rm(dir, { recursive: true });
});

afterAll(async () => {
  await db.close();
  await database.drop();
});

describe('db.withClaims', () => {
  test('runs as the claimed role with the claims visible to auth.*()', async () => {
    const row = await db.withClaims(
      user(alice),
      async (tx) =>
        (await tx.query(`select current_user, auth.uid(), auth.role(), auth.email(), auth.jwt() ->> 'aal' as aal`))
          .rows[0],
    );
    expect(row).toEqual({
      current_user: 'authenticated',
      uid: alice,
      role: 'authenticated',
      email: 'a@example.com',
      aal: 'aal1',
    });
  });

  test('row-level security decides what each user sees and writes', async () => {
    const titles = (sub: string) =>
      db.withClaims(user(sub), async (tx) =>
        (await tx.query('select title from todos order by id')).rows.map((r) => r.title),
      );
    expect(await titles(alice)).toEqual(['alice 1', 'alice 2']);
    expect(await titles(bob)).toEqual(['bob 1']);
    await expect(
      db.withClaims(user(bob), (tx) => tx.query(`insert into todos (owner, title) values ($1, 'forged')`, [alice])),
    ).rejects.toThrow(/row-level security/);
  });

  test('anon sees nothing without a policy; service_role bypasses RLS', async () => {
    const count = (claims: { role: string }) =>
      db.withClaims(claims, async (tx) => (await tx.query('select count(*)::int as n from todos')).rows[0]?.n);
    expect(await count({ role: 'anon' })).toBe(0);
    expect(await count({ role: 'service_role' })).toBe(3);
  });

  test('settings do not leak to the next transaction on the same connection', async () => {
    await db.withClaims(user(alice), (tx) => tx.query('select 1'));
    const after = (await db.query(`select current_user as who, current_setting('request.jwt.claims', true) as claims`))
      .rows[0];
    expect(after?.who).not.toBe('authenticated');
    expect(after?.claims ?? '').toBe('');
  });

  test('a failing callback rolls back its writes and the pool stays usable', async () => {
    await expect(
      db.withClaims(user(alice), async (tx) => {
        await tx.query(`insert into todos (title) values ('rolled back')`);
        await tx.query('select 1/0');
      }),
    ).rejects.toThrow(/division by zero/);
    const rows = await db.withClaims({ role: 'service_role' }, (tx) =>
      tx.query(`select 1 from todos where title = 'rolled back'`),
    );
    expect(rows.rowCount).toBe(0);
    // The pool has two connections; ten more transactions prove none was left in a broken state.
    for (let i = 0; i < 10; i++) await db.withClaims({ role: 'anon' }, (tx) => tx.query('select 1'));
  });

  test('a callback still running after its transaction failed cannot reach the connection', async () => {
    let late: Promise<unknown> | undefined;
    await expect(
      db.withClaims(user(alice), async (tx) => {
        late = new Promise((r) => setTimeout(r, 50)).then(() => tx.query('select current_user'));
        late.catch(() => undefined);
        await tx.query('select 1/0');
      }),
    ).rejects.toThrow(/division by zero/);
    await expect(late).rejects.toThrow(/a query after the end of its transaction/);
  });

  test.each([
    'anon; drop table todos',
    "anon'; drop table todos; --",
    '"service_role"',
    'postgres',
    'none',
    'pg_read_server_files',
    'authenticator',
  ])('a role outside anon/authenticated/service_role (%j) is refused before any SQL', async (role) => {
    await expect(db.withClaims({ role }, (tx) => tx.query('select 1'))).rejects.toThrow(/is not an API role/);
    expect((await db.query(`select to_regclass('public.todos')::text as t`)).rows[0]?.t).toBe('todos');
  });

  test('a request runs exactly one statement: a second one smuggled into the text is refused', async () => {
    await expect(
      db.withClaims({ role: 'service_role' }, (tx) => tx.query('select 1; drop table todos')),
    ).rejects.toThrow(/cannot insert multiple commands/);
    expect((await db.query(`select to_regclass('public.todos')::text as t`)).rows[0]?.t).toBe('todos');
  });

  test('with DB_PREPARED_STATEMENTS=false nothing is prepared, and requests still work', async () => {
    const plain = testDb(database.url, { preparedStatements: false });
    try {
      const rows = await plain.withClaims(user(alice), async (tx) => {
        await tx.query('select 1');
        return (
          await tx.query(
            `select count(*)::int as n, (select count(*)::int from pg_prepared_statements) as prepared from todos`,
          )
        ).rows[0];
      });
      expect(rows).toEqual({ n: 2, prepared: 0 });
    } finally {
      await plain.close();
    }
  });

  test('the statement timeout applies inside a request transaction', async () => {
    const short = testDb(database.url, { statementTimeoutMs: 200 });
    try {
      await expect(short.withClaims({ role: 'anon' }, (tx) => tx.query('select pg_sleep(1)'))).rejects.toThrow(
        /statement timeout/,
      );
    } finally {
      await short.close();
    }
  });
});

describe('db.queryAs: one statement as the caller, in one round trip', () => {
  test('runs under the claims and RLS, as withClaims does', async () => {
    const mine = await db.queryAs<{ title: string; uid: string }>(
      user(bob),
      'select title, auth.uid() as uid from todos order by id',
      [],
    );
    expect(mine.rows).toEqual([{ title: 'bob 1', uid: bob }]);
    const after = (await db.query(`select current_user as who, current_setting('request.jwt.claims', true) as claims`))
      .rows[0];
    expect(after?.who).not.toBe('authenticated');
    expect(after?.claims ?? '').toBe('');
  });

  test('a failing statement commits nothing, and the connection is reused in a clean state', async () => {
    await expect(
      db.queryAs(
        user(alice),
        `with w as (insert into todos (title) values ('half written') returning 1) select 1/0 from w`,
        [],
      ),
    ).rejects.toThrow(/division by zero/);
    expect(
      (await db.queryAs({ role: 'service_role' }, `select 1 from todos where title = 'half written'`, [])).rowCount,
    ).toBe(0);
    for (let i = 0; i < 10; i++) {
      const row = (
        await db.queryAs<{ state: string }>(
          { role: 'anon' },
          `select current_setting('transaction_read_only') as state`,
          [],
        )
      ).rows[0];
      expect(row?.state).toBe('off');
    }
    const single = testDb(database.url, { max: 1 });
    try {
      const pid = async () =>
        (await single.queryAs<{ pid: number }>({ role: 'anon' }, 'select pg_backend_pid() as pid', [])).rows[0]?.pid;
      const before = await pid();
      await expect(single.queryAs({ role: 'anon' }, 'select 1/0', [])).rejects.toThrow(/division by zero/);
      expect(await pid()).toBe(before);
    } finally {
      await single.close();
    }
  });

  test('read-only refuses a write; a refused role runs nothing; a second statement is refused', async () => {
    await expect(
      db.queryAs(user(alice), `insert into todos (title) values ('no')`, [], { readOnly: true }),
    ).rejects.toThrow(/read-only transaction/);
    await expect(db.queryAs({ role: 'postgres' }, 'drop table todos', [])).rejects.toThrow(/is not an API role/);
    await expect(db.queryAs({ role: 'service_role' }, 'select 1; drop table todos', [])).rejects.toThrow(
      /cannot insert multiple commands/,
    );
    expect((await db.query(`select to_regclass('public.todos')::text as t`)).rows[0]?.t).toBe('todos');
  });

  test('the statement timeout applies', async () => {
    const short = testDb(database.url, { statementTimeoutMs: 200 });
    try {
      await expect(short.queryAs({ role: 'anon' }, 'select pg_sleep(1)', [])).rejects.toThrow(/statement timeout/);
      expect((await short.queryAs<{ n: number }>({ role: 'anon' }, 'select 1 as n', [])).rows).toEqual([{ n: 1 }]);
    } finally {
      await short.close();
    }
  });
});
