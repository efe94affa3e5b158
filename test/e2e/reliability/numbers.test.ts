/**
 * Issue 12 item 1: numbers arrive exactly as sent, on every write path. Seeded random big and exotic
 * numbers (19-digit int8 keys, 40-digit integers, trailing-zero scales, 1e400, -0) go in as JSON text
 * through the data API (insert, upsert, update, RPC), auth metadata, storage metadata and realtime
 * (the broadcast API, a client's broadcast, realtime.send), and are read back both from the database
 * and from the API's answer. "Exactly" is PostgreSQL's own reading of the text that was sent: each
 * read-back is compared, as text, with `$sent::jsonb::text` (which keeps numeric scale) computed by
 * PostgreSQL itself, never by a JavaScript parse.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RawSocket, waitFor } from '../../helpers/realtime.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { prng } from '../../rest/fuzz-inputs.js';

const SEED = Number(process.env.NUMBERS_SEED ?? Date.now() % 1_000_000);
const CASES = 12;

const MIGRATION = `
  create table public.nums (id bigint primary key, n numeric, doc jsonb, f float8);
  alter table public.nums enable row level security;
  create policy "anyone" on public.nums for all using (true) with check (true);
  grant all on public.nums to anon;
  create function public.put_num(p_id bigint, p_n numeric, p_doc jsonb) returns void language sql as $$
    insert into public.nums values (p_id, p_n, p_doc)
  $$;
  create function public.echo_doc(d jsonb) returns jsonb language sql immutable as $$ select d $$;
  create function public.ids_from(start bigint) returns setof bigint language sql immutable as $$ select start + g from generate_series(0, 2) g $$;
  insert into storage.buckets (id, name, public) values ('files', 'files', true);
  create policy "anyone uploads" on storage.objects for all using (bucket_id = 'files') with check (bucket_id = 'files');
`;

let server: TestServer;
const random = prng(SEED);
const digits = (n: number, first = '123456789') =>
  first[Math.floor(random() * first.length)] + Array.from({ length: n - 1 }, () => Math.floor(random() * 10)).join('');
const sign = () => (random() < 0.3 ? '-' : '');

/** An int8 that a double cannot hold: 17 to 19 digits, below 2^63. */
const bigKey = () => `${sign()}${digits(17 + Math.floor(random() * 2))}`;
/** Numbers a JavaScript parse would change, each a valid JSON number. */
const exotic = (): string =>
  [
    () => `${sign()}${digits(20 + Math.floor(random() * 20))}`,
    () => `${sign()}${digits(3)}.${digits(2, '0123456789')}00`,
    () => `${sign()}0.${digits(25, '0123456789')}1`,
    () => `${sign()}${digits(1)}.${digits(3, '0123456789')}e${400 + Math.floor(random() * 50)}`,
    () => `${digits(1)}E+${Math.floor(random() * 30)}`,
    () => '-0',
    () => `${sign()}${digits(18)}.${digits(12, '0123456789')}`,
  ][Math.floor(random() * 7)]!();
const doc = () => `{"x":${exotic()},"list":[${exotic()},${exotic()}],"deep":{"k":${bigKey()}}}`;

/** PostgreSQL's text of `json` read as jsonb: the comparison that keeps scale and every digit. */
async function canon(json: string): Promise<string> {
  return (await server.sql.query<{ t: string }>('select $1::jsonb::text as t', [json])).rows[0]!.t;
}
/** The stored row as jsonb text, so key and numeric compare like the documents. */
async function stored(id: string): Promise<string | undefined> {
  return (
    await server.sql.query<{ t: string }>('select to_jsonb(n)::text as t from public.nums where id = $1::bigint', [id])
  ).rows[0]?.t;
}
const headers = () => ({ apikey: server.anonKey, 'content-type': 'application/json' });

beforeAll(async () => {
  console.log(`numbers property test: NUMBERS_SEED=${SEED}`);
  server = await startTestServer({ migrations: { '20240101000000_nums.sql': MIGRATION } });
});
afterAll(async () => {
  await server?.stop();
});

describe(`every write path keeps numbers exact (NUMBERS_SEED=${SEED})`, () => {
  test('data API: insert with return=representation, a single-object read, upsert and update', async () => {
    for (let i = 0; i < CASES; i++) {
      const [id, n, d] = [bigKey(), exotic().replace(/e\d+$/i, ''), doc()];
      const body = `{"id":${id},"n":${n},"doc":${d}}`;
      const insert = await fetch(`${server.url}/rest/v1/nums`, {
        method: 'POST',
        headers: { ...headers(), prefer: 'return=representation' },
        body,
      });
      expect(insert.status, body).toBe(201);
      const row = (
        await server.sql.query<{ id: string; n: string; doc: string }>(
          'select id::text, to_jsonb(n)::text as n, doc::text from public.nums where id = $1::bigint',
          [id],
        )
      ).rows[0];
      expect(row, `row ${id} of ${body}`).toEqual({ id: await canon(id), n: await canon(n), doc: await canon(d) });
      // The answer, read by PostgreSQL: [{"id": …, "n": …, "doc": …}]
      expect(await canon(await insert.text())).toBe(await canon(`[{"f":null,${body.slice(1)}]`));
      const single = await fetch(`${server.url}/rest/v1/nums?id=eq.${id}`, {
        headers: { ...headers(), accept: 'application/vnd.pgrst.object+json' },
      });
      expect(await canon(await single.text())).toBe(await canon(`{"f":null,${body.slice(1)}`));

      const [n2, d2] = [exotic().replace(/e\d+$/i, ''), doc()];
      const upsert = await fetch(`${server.url}/rest/v1/nums`, {
        method: 'POST',
        headers: { ...headers(), prefer: 'resolution=merge-duplicates' },
        body: `[{"id":${id},"n":${n2},"doc":${d2}}]`,
      });
      // Only an update: PostgREST answers 200 (201 when a row is inserted).
      expect(upsert.status).toBe(200);
      expect(await stored(id)).toBe(await canon(n2));
      const n3 = exotic().replace(/e\d+$/i, '');
      const patch = await fetch(`${server.url}/rest/v1/nums?id=eq.${id}`, {
        method: 'PATCH',
        headers: headers(),
        body: `{"n":${n3}}`,
      });
      expect(patch.status).toBe(204);
      expect(await stored(id)).toBe(await canon(n3));
    }
  });

  test('data API: 1e400 into float8 is the refusal PostgreSQL gives (a 400), never a NULL', async () => {
    const id = bigKey();
    const insert = await fetch(`${server.url}/rest/v1/nums`, {
      method: 'POST',
      headers: headers(),
      body: `{"id":${id},"f":1e400}`,
    });
    expect(insert.status).toBe(400);
    expect(await insert.json()).toMatchObject({ code: '22003' });
    expect(await stored(id)).toBeUndefined();
  });

  test('data API: RPC arguments and a jsonb result', async () => {
    for (let i = 0; i < CASES; i++) {
      const [id, n, d] = [bigKey(), exotic().replace(/e\d+$/i, ''), doc()];
      const put = await fetch(`${server.url}/rest/v1/rpc/put_num`, {
        method: 'POST',
        headers: headers(),
        body: `{"p_id":${id},"p_n":${n},"p_doc":${d}}`,
      });
      expect(put.status).toBe(204);
      expect(await stored(id)).toBe(await canon(n));
      // A set of int8 answers every digit (and a setof-scalar call runs at all: it once sent an unused parameter).
      const ids = await fetch(`${server.url}/rest/v1/rpc/ids_from?start=${id}`, { headers: headers() });
      expect(ids.status).toBe(200);
      expect(await canon(await ids.text())).toBe(
        (
          await server.sql.query<{ t: string }>('select jsonb_agg(v)::text as t from public.ids_from($1::bigint) v', [
            id,
          ])
        ).rows[0]!.t,
      );
      const echo = await fetch(`${server.url}/rest/v1/rpc/echo_doc`, {
        method: 'POST',
        headers: headers(),
        body: `{"d":${d}}`,
      });
      expect(await canon(await echo.text())).toBe(await canon(d));
    }
  });

  test('auth: user metadata at sign-up and from an admin, stored and answered', async () => {
    for (let i = 0; i < 4; i++) {
      const d = doc();
      const email = `n${i}-${SEED}@example.com`;
      const signup = await fetch(`${server.url}/auth/v1/signup`, {
        method: 'POST',
        headers: headers(),
        body: `{"email":"${email}","password":"a long password 1","data":${d}}`,
      });
      expect(signup.status).toBe(200);
      const { rows } = await server.sql.query<{ id: string; meta: string }>(
        `select id, (raw_user_meta_data - 'email' - 'email_verified' - 'phone_verified' - 'sub')::text as meta from auth.users where email = $1`,
        [email],
      );
      expect(rows[0]?.meta).toBe(await canon(d));
      // Read back through the API: GoTrue's user JSON, read by PostgreSQL.
      const admin = {
        apikey: server.serviceRoleKey,
        authorization: `Bearer ${server.serviceRoleKey}`,
        'content-type': 'application/json',
      };
      const user = await fetch(`${server.url}/auth/v1/admin/users/${rows[0]!.id}`, { headers: admin });
      const answered = (
        await server.sql.query<{ t: string }>(
          `select (($1::jsonb -> 'user_metadata') - 'email' - 'email_verified' - 'phone_verified' - 'sub')::text as t`,
          [await user.text()],
        )
      ).rows[0]!.t;
      expect(answered).toBe(await canon(d));
      const d2 = doc();
      const update = await fetch(`${server.url}/auth/v1/admin/users/${rows[0]!.id}`, {
        method: 'PUT',
        headers: admin,
        body: `{"app_metadata":{"plan":${d2}}}`,
      });
      expect(update.status).toBe(200);
      const app = (
        await server.sql.query<{ t: string }>(
          `select (raw_app_meta_data -> 'plan')::text as t from auth.users where id = $1`,
          [rows[0]!.id],
        )
      ).rows[0]!.t;
      expect(app).toBe(await canon(d2));
    }
  });

  test('storage: user metadata of an upload, stored and answered by info', async () => {
    for (let i = 0; i < 4; i++) {
      const d = doc();
      const name = `n-${SEED}-${i}.txt`;
      const upload = await fetch(`${server.url}/storage/v1/object/files/${name}`, {
        method: 'POST',
        headers: {
          apikey: server.anonKey,
          'content-type': 'text/plain',
          'x-metadata': Buffer.from(d).toString('base64'),
        },
        body: 'bytes',
      });
      expect(upload.status, await upload.clone().text()).toBe(200);
      const row = (
        await server.sql.query<{ t: string }>(
          `select user_metadata::text as t from storage.objects where bucket_id = 'files' and name = $1`,
          [name],
        )
      ).rows[0];
      expect(row?.t).toBe(await canon(d));
      const info = await fetch(`${server.url}/storage/v1/object/info/public/files/${name}`, {
        headers: { apikey: server.anonKey },
      });
      const answered = (
        await server.sql.query<{ t: string }>(`select ($1::jsonb -> 'metadata')::text as t`, [await info.text()])
      ).rows[0]?.t;
      expect(answered).toBe(await canon(d));
    }
  });

  test('realtime: the broadcast API, a client broadcast and realtime.send deliver the numbers sent', async () => {
    const listener = await RawSocket.open(server.url, server.anonKey);
    const sender = await RawSocket.open(server.url, server.anonKey);
    const topic = `numbers-${SEED}`;
    expect((await listener.join(topic, { config: { broadcast: { self: false } } })).reply.status).toBe('ok');
    const { joinRef } = await sender.join(topic, { config: { broadcast: { self: false } } });
    /** The payload of the broadcast frame that carries `marker`, as text, read by PostgreSQL. */
    const delivered = async (marker: string) => {
      const text = await waitFor(() => listener.texts.find((t) => t.includes(marker)), 5000, `the broadcast ${marker}`);
      return (await server.sql.query<{ t: string }>(`select ($1::jsonb -> 4 -> 'payload' -> 'd')::text as t`, [text]))
        .rows[0]!.t;
    };
    for (let i = 0; i < 4; i++) {
      const [a, b, c] = [doc(), doc(), doc()];
      const api = await fetch(`${server.url}/realtime/v1/api/broadcast`, {
        method: 'POST',
        headers: headers(),
        body: `{"messages":[{"topic":"${topic}","event":"api","payload":{"m":"api-${i}","d":${a}}}]}`,
      });
      expect(api.status).toBe(202);
      expect(await delivered(`"api-${i}"`)).toBe(await canon(a));
      // A client's own frame, as text: the server must not round its numbers on the way through.
      sender.ws.send(
        `[${JSON.stringify(joinRef)},"b${i}","realtime:${topic}","broadcast",{"type":"broadcast","event":"ws","payload":{"m":"ws-${i}","d":${b}}}]`,
      );
      expect(await delivered(`"ws-${i}"`)).toBe(await canon(b));
      await server.sql.query(`select realtime.send($1::jsonb, 'sql', $2, false)`, [`{"m":"sql-${i}","d":${c}}`, topic]);
      expect(await delivered(`"sql-${i}"`)).toBe(await canon(c));
    }
    // A presence payload that is one kept number is no map (it was a map of its fields once).
    const tracked = await sender.push(joinRef, `realtime:${topic}`, 'presence', {
      type: 'presence',
      event: 'track',
      payload: { n: 1 },
    });
    expect(tracked).toMatchObject({ status: 'ok' });
    sender.ws.send(
      `[${JSON.stringify(joinRef)},"p1","realtime:${topic}","presence",{"type":"presence","event":"track","payload":1.0}]`,
    );
    const refused = await sender.waitFrame((f) => f[1] === 'p1' && f[3] === 'phx_reply');
    expect(refused[4]).toMatchObject({ status: 'error', response: { reason: 'Presence track payload must be a map' } });
    listener.close();
    sender.close();
  });
});
