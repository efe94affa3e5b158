/**
 * What the cron tests share: a fresh, migrated database with a role that may schedule jobs, and
 * small ways to query it (as that role, too). The owners' logins the scheduler makes (server-wide
 * roles) are dropped with the database.
 */
import crypto from 'node:crypto';
import pg from 'pg';
import type { Db } from '../../src/db/pool.js';
import { adminUrl, freshDatabase, migrateOwnSchema, testDb, type TestDatabase } from '../helpers/db.js';

export interface CronDatabase {
  readonly database: TestDatabase;
  readonly db: Db;
  readonly sql: pg.Pool;
  /** A role with usage on schema cron, made for this database. */
  readonly owner: string;
  /** Runs `text` as `role` (set role in a transaction), answering its rows or its error's message. */
  as<T = Record<string, unknown>>(role: string, text: string, values?: unknown[]): Promise<T[] | string>;
  /** The first column of the first row. */
  one<T = unknown>(text: string, values?: unknown[]): Promise<T>;
  /** The statement's error message ('no error' when it succeeds). */
  error(text: string, values?: unknown[]): Promise<string>;
  drop(): Promise<void>;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function cronDatabase(): Promise<CronDatabase> {
  const database = await freshDatabase();
  const db = testDb(database.url);
  await migrateOwnSchema(db);
  const sql = new pg.Pool({ connectionString: database.url, max: 4 });
  const owner = `cron_owner_${crypto.randomBytes(4).toString('hex')}`;
  await sql.query(`create role ${owner} nologin`);
  await sql.query(`grant usage on schema cron to ${owner}`);
  return {
    database,
    db,
    sql,
    owner,
    async as<T>(role: string, text: string, values?: unknown[]): Promise<T[] | string> {
      const client = await sql.connect();
      try {
        await client.query('begin');
        await client.query(`set local role ${role}`);
        const { rows } = await client.query(text, values);
        await client.query('commit');
        return rows as T[];
      } catch (err) {
        await client.query('rollback');
        return (err as Error).message;
      } finally {
        client.release();
      }
    },
    one: async <T>(text: string, values?: unknown[]): Promise<T> =>
      Object.values((await sql.query(text, values)).rows[0] ?? {})[0] as T,
    error: (text, values) =>
      sql.query(text, values).then(
        () => 'no error',
        (err: Error) => err.message,
      ),
    async drop() {
      const logins = (await sql.query<{ role_name: string }>('select role_name from trellis.cron_logins')).rows;
      await sql.end();
      await db.close();
      await database.drop();
      const admin = new pg.Client({ connectionString: adminUrl() });
      await admin.connect();
      try {
        for (const role of [...logins.map((r) => r.role_name), owner])
          await admin.query(`drop role if exists "${role}"`);
      } finally {
        await admin.end();
      }
    },
  };
}
