import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    migrations: {
      '20240101000000_notes.sql':
        'create table public.notes (id int primary key); grant select on public.notes to anon;',
    },
  });
});
afterAll(() => server.stop());

const ORIGIN = 'http://localhost:5173';

describe("CORS, as Supabase's gateway answers browsers", () => {
  test.each(['/rest/v1/notes', '/auth/v1/token?grant_type=password', '/storage/v1/object/avatars/a.png'])(
    'a preflight to %s is answered without an apikey',
    async (path) => {
      const response = await fetch(`${server.url}${path}`, {
        method: 'OPTIONS',
        headers: {
          origin: ORIGIN,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,apikey,content-type,x-client-info,prefer',
        },
      });
      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      expect(response.headers.get('access-control-allow-headers')).toBe(
        'authorization,apikey,content-type,x-client-info,prefer',
      );
      expect(response.headers.get('access-control-allow-methods')).toContain('PATCH');
      expect(response.headers.get('access-control-max-age')).toBe('86400');
    },
  );

  test('answers, errors included, carry the origin header and expose Content-Range', async () => {
    const ok = await fetch(`${server.url}/rest/v1/notes?select=id`, {
      headers: { origin: ORIGIN, apikey: server.anonKey, prefer: 'count=exact' },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('*');
    expect(ok.headers.get('access-control-expose-headers')).toContain('content-range');
    const refused = await fetch(`${server.url}/rest/v1/notes`, { headers: { origin: ORIGIN } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe('*');
    const missing = await fetch(`${server.url}/nowhere`, { headers: { origin: ORIGIN } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('access-control-allow-origin')).toBe('*');
  });

  test('a streamed storage download carries them too', async () => {
    await server.sql.query(`insert into storage.buckets (id, name, public) values ('pics', 'pics', true)`);
    const put = await fetch(`${server.url}/storage/v1/object/pics/a.txt`, {
      method: 'POST',
      headers: {
        apikey: server.anonKey,
        authorization: `Bearer ${server.serviceRoleKey}`,
        'content-type': 'text/plain',
      },
      body: 'hello',
    });
    expect(put.status).toBe(200);
    for (const path of ['/storage/v1/object/public/pics/a.txt', '/storage/v1/object/authenticated/pics/a.txt']) {
      const got = await fetch(`${server.url}${path}`, {
        headers: {
          origin: ORIGIN,
          apikey: server.anonKey,
          authorization: `Bearer ${server.serviceRoleKey}`,
          range: 'bytes=0-1',
        },
      });
      expect(got.status, path).toBe(206);
      expect(await got.text()).toBe('he');
      expect(got.headers.get('access-control-allow-origin')).toBe('*');
      expect(got.headers.get('access-control-expose-headers')).toContain('content-range');
    }
  });

  test('requests without an Origin get no CORS headers', async () => {
    const response = await fetch(`${server.url}/rest/v1/notes`, { headers: { apikey: server.anonKey } });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});
