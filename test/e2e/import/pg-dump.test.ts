/**
 * `trellis import` of a Supabase project's dump, end to end: a Supabase-shaped database is built
 * on the test server, dumped with the machine's pg_dump (a whole-database dump, and the
 * `supabase db dump` pair: schema without Supabase's schemas, then data as INSERTs), imported
 * into a started Trellis; supabase-js then signs in as an imported bcrypt user, reads under the
 * dumped RLS policies and downloads an imported object (files from a folder and from S3).
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { hash } from '@node-rs/bcrypt';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../../helpers/db.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';
import { s3Backend, type StorageBackend } from '../../helpers/storage.js';

const FIXTURE = new URL('../../import/fixtures/supabase-source.sql', import.meta.url);
const hasPgDump = spawnSync('pg_dump', ['--version']).status === 0;
if (!hasPgDump) {
  if (process.env.CI === 'true')
    throw new Error('pg_dump is not on PATH, and CI must run the Supabase dump import test');
  console.log('skipping the Supabase dump import tests: pg_dump is not on PATH');
}

const ALICE = '11111111-1111-4111-8111-111111111111';
const BOB = '22222222-2222-4222-8222-222222222222';
const FACE = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
const NOTE_BODIES = ['tab\there', 'back\\slash and \\N', 'new\nline\r\nand CR', 'ünïcødé ✓ "quoted"'];

let source: TestDatabase;
let work: string;
let storageDir: string;

async function buildSource(): Promise<void> {
  const client = new pg.Client({ connectionString: source.url });
  await client.connect();
  try {
    await client.query(await fs.readFile(FIXTURE, 'utf8'));
    for (const [id, email, password] of [
      [ALICE, 'alice@example.com', 'alice-password-1'],
      [BOB, 'bob@example.com', 'bob-password-2'],
    ] as const) {
      await client.query(
        `insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                                 raw_app_meta_data, raw_user_meta_data, created_at, updated_at, confirmation_token)
         values ('00000000-0000-0000-0000-000000000000', $1, 'authenticated', 'authenticated', $2, $3, now(),
                 '{"provider":"email","providers":["email"]}', '{}', now(), now(), '')`,
        [id, email, await hash(password, 10)],
      );
      await client.query(
        `insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)
         values ($1::text, $1::uuid, jsonb_build_object('sub', $1::text, 'email', $2::text, 'email_verified', true), 'email', now(), now())`,
        [id, email],
      );
      await client.query('insert into auth.sessions (id, user_id, created_at) values (gen_random_uuid(), $1, now())', [
        id,
      ]);
    }
    await client.query(`update public.profiles set username = 'alice', mood = 'it''s complicated' where id = $1`, [
      ALICE,
    ]);
    for (const body of NOTE_BODIES.slice(0, 3))
      await client.query('insert into public.notes (owner, body, tags) values ($1, $2, $3)', [
        ALICE,
        body,
        ['a,b', 'c"d'],
      ]);
    await client.query('insert into public.notes (owner, body) values ($1, $2)', [BOB, NOTE_BODIES[3]]);
    await client.query(`insert into public."Tickets" ("Label") values ('first'), (null)`);
    await client.query(`insert into storage.buckets (id, name, public) values ('avatars', 'avatars', false)`);
    await client.query(
      `insert into storage.objects (bucket_id, name, owner, owner_id, version, metadata) values
         ('avatars', $1 || '/face.png', $1::uuid, $1, 'v-alice-1', '{"mimetype":"image/png","size":4,"cacheControl":"max-age=3600"}'),
         ('avatars', $2 || '/cv.txt', $2::uuid, $2, 'v-bob-1', '{"mimetype":"text/plain","size":9}'),
         ('avatars', $1 || '/lost.txt', $1::uuid, $1, null, '{"mimetype":"text/plain"}')`,
      [ALICE, BOB],
    );
  } finally {
    await client.end();
  }
}

function pgDump(args: string[], file: string): void {
  const result = spawnSync('pg_dump', [...args, '-f', file, '-d', source.url], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`pg_dump failed: ${result.stderr}`);
}

beforeAll(async () => {
  if (!hasPgDump) return;
  source = await freshDatabase();
  await buildSource();
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-pgdump-'));
  pgDump([], path.join(work, 'full.sql'));
  // What `supabase db dump` and `supabase db dump --data-only` run (without their sed clean-up).
  const excluded = ['auth', 'storage', 'extensions'].flatMap((s) => ['--exclude-schema', s]);
  pgDump(['--schema-only', '--quote-all-identifiers', ...excluded], path.join(work, 'schema.sql'));
  pgDump(
    [
      '--data-only',
      '--quote-all-identifiers',
      '--column-inserts',
      '--rows-per-insert',
      '100000',
      '--exclude-schema',
      'extensions',
    ],
    path.join(work, 'data.sql'),
  );
  const data = await fs.readFile(path.join(work, 'data.sql'), 'utf8');
  await fs.writeFile(path.join(work, 'data.sql'), `SET session_replication_role = replica;\n${data}\nRESET ALL;\n`);
  // The files: a `supabase storage cp -r` download for alice, storage-api's file backend for bob.
  storageDir = path.join(work, 'files');
  await fs.mkdir(path.join(storageDir, 'avatars', ALICE), { recursive: true });
  await fs.writeFile(path.join(storageDir, 'avatars', ALICE, 'face.png'), FACE);
  await fs.mkdir(path.join(storageDir, 'stub', 'avatars', BOB, 'cv.txt'), { recursive: true });
  await fs.writeFile(path.join(storageDir, 'stub', 'avatars', BOB, 'cv.txt', 'v-bob-1'), 'bob\tcv\n!!');
}, 120_000);

afterAll(async () => {
  if (!hasPgDump) return;
  await source?.drop();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

async function checkImported(server: TestServer): Promise<void> {
  const alice = supabaseClient(server);
  const signIn = await alice.auth.signInWithPassword({ email: 'alice@example.com', password: 'alice-password-1' });
  expect(signIn.error).toBeNull();
  expect(signIn.data.user?.id).toBe(ALICE);
  const notes = await alice.from('notes').select('owner, body, tags').order('id');
  expect(notes.error).toBeNull();
  expect(notes.data).toEqual(NOTE_BODIES.slice(0, 3).map((body) => ({ owner: ALICE, body, tags: ['a,b', 'c"d'] })));
  const profile = await alice.from('profiles').select('username, mood').eq('id', ALICE).single();
  expect(profile.data).toEqual({ username: 'alice', mood: "it's complicated" });
  // anon: the profiles policy lets it read, the notes policy does not.
  const anon = supabaseClient(server);
  expect((await anon.from('notes').select('id')).data).toEqual([]);
  expect((await anon.from('profiles').select('id')).data).toHaveLength(2);
  // The identity sequence was advanced: a new note does not collide with an imported one.
  const admin = supabaseClient(server, server.serviceRoleKey);
  const added = await admin.from('notes').insert({ owner: BOB, body: 'after import' }).select('id').single();
  expect(added.error).toBeNull();
  expect(added.data?.id).toBe(5);
  const { rows } = await server.sql.query<{ n: number }>(
    'select count(*)::int as n from public.notes n join auth.users u on u.id = n.owner',
  );
  expect(rows[0]?.n).toBe(5);
  const bob = supabaseClient(server);
  expect(
    (await bob.auth.signInWithPassword({ email: 'bob@example.com', password: 'bob-password-2' })).error,
  ).toBeNull();
  expect((await bob.from('notes').select('body')).data).toEqual([{ body: NOTE_BODIES[3] }, { body: 'after import' }]);
}

/** `policies`: the dump held the storage.objects policy (a whole-database dump does, supabase db dump does not). */
async function checkStorage(server: TestServer, policies: boolean): Promise<void> {
  const alice = supabaseClient(server);
  await alice.auth.signInWithPassword({ email: 'alice@example.com', password: 'alice-password-1' });
  const face = await alice.storage.from('avatars').download(`${ALICE}/face.png`);
  if (policies) {
    expect(face.error).toBeNull();
    expect(Buffer.from(await face.data!.arrayBuffer())).toEqual(FACE);
  } else expect(face.error).not.toBeNull();
  // The dumped policy on storage.objects: alice cannot read bob's folder.
  expect((await alice.storage.from('avatars').download(`${BOB}/cv.txt`)).error).not.toBeNull();
  const admin = supabaseClient(server, server.serviceRoleKey);
  const face2 = await admin.storage.from('avatars').download(`${ALICE}/face.png`);
  expect(Buffer.from(await face2.data!.arrayBuffer())).toEqual(FACE);
  const cv = await admin.storage.from('avatars').download(`${BOB}/cv.txt`);
  expect(await cv.data?.text()).toBe('bob\tcv\n!!');
  const { rows } = await server.sql.query<{ name: string; metadata: Record<string, unknown> }>(
    'select name, metadata from storage.objects order by name',
  );
  expect(rows.map((r) => r.name)).toEqual([`${ALICE}/face.png`, `${BOB}/cv.txt`]);
  expect(rows[0]?.metadata).toMatchObject({
    mimetype: 'image/png',
    size: 4,
    contentLength: 4,
    cacheControl: 'max-age=3600',
    eTag: `"${crypto.createHash('md5').update(FACE).digest('hex')}"`,
  });
}

describe.runIf(hasPgDump)('trellis import of a Supabase dump', () => {
  test('a whole-database pg_dump: users sign in, RLS holds, files from a folder', async () => {
    const server = await startTestServer();
    try {
      const args = ['import', path.join(work, 'full.sql'), '--dir', server.dir, '--db-url', server.databaseUrl];
      const plan = await runCli([...args, '--storage-dir', storageDir, '--dry-run'], {}, 120_000);
      expect(plan.code, plan.stderr + plan.stdout).toBe(0);
      expect(plan.stdout).toMatch(/^Plan for /);
      expect(plan.stdout).toMatch(/public\.notes\s+4\s+loaded/);
      expect(plan.stdout).toMatch(/2 of 3 object files found/);
      expect(plan.stdout).toMatch(/storage\.objects .*columns dropped: level/);
      const none = await server.sql.query('select 1 from auth.users');
      expect(none.rowCount).toBe(0);
      const result = await runCli([...args, '--storage-dir', storageDir], {}, 120_000);
      expect(result.stderr).not.toMatch(/unexpected error/);
      expect(result.code, result.stderr + result.stdout).toBe(0);
      expect(result.stdout).toMatch(/auth\.users\s+2\s+mapped/);
      expect(result.stdout).toMatch(/auth\.sessions\s+2\s+skipped/);
      expect(result.stdout).toMatch(/storage\.objects .*columns dropped: level/);
      expect(result.stdout).toMatch(/2 of 3 object files copied/);
      expect(result.stdout).toContain(`avatars/${ALICE}/lost.txt`);
      expect(result.stdout).toMatch(/schema auth is Trellis's own/);
      expect(result.stdout).toMatch(/1 table\(s\) without row level security: .*public\.Tickets/);
      await checkImported(server);
      await checkStorage(server, true);
    } finally {
      await server.stop();
    }
  });

  test('supabase db dump then --data-only (INSERTs): files from an S3 prefix', async () => {
    const s3: StorageBackend = await s3Backend();
    const server = await startTestServer();
    try {
      const endpoint = s3.env.STORAGE_S3_ENDPOINT ?? '';
      const client = new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      });
      await client.send(
        new PutObjectCommand({ Bucket: 'trellis', Key: `export/avatars/${ALICE}/face.png`, Body: FACE }),
      );
      await client.send(
        new PutObjectCommand({ Bucket: 'trellis', Key: `export/avatars/${BOB}/cv.txt/v-bob-1`, Body: 'bob\tcv\n!!' }),
      );
      client.destroy();
      const base = ['--dir', server.dir, '--db-url', server.databaseUrl];
      const schema = await runCli(['import', path.join(work, 'schema.sql'), ...base], {}, 120_000);
      expect(schema.code, schema.stderr + schema.stdout).toBe(0);
      const env = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
      const data = await runCli(
        [
          'import',
          path.join(work, 'data.sql'),
          ...base,
          '--storage-s3',
          's3://trellis/export',
          '--s3-endpoint',
          endpoint,
        ],
        env,
        120_000,
      );
      expect(data.code, data.stderr + data.stdout).toBe(0);
      expect(data.stdout).toMatch(/auth\.identities\s+2\s+mapped/);
      await checkImported(server);
      await checkStorage(server, false);
    } finally {
      await server.stop();
      await s3.stop();
    }
  });
});
