import { Hono } from 'hono';
import { describe, expect, test } from 'vitest';
import { parseLsn } from '../../src/db/index.js';
import { ApiError } from '../../src/errors.js';
import { createReadFences, type ReadFences } from '../../src/platform/read-fence.js';

/** One app that writes (notes `lsn`) and one route that answers the fence a read would carry. */
function app(fences: ReadFences) {
  const hono = new Hono();
  hono.onError((err, c) => c.json({ message: err.message }, err instanceof ApiError ? 400 : 500));
  const claimsOf = (c: { req: { header(n: string): string | undefined } }) => {
    const sub = c.req.header('x-sub');
    return sub ? { role: 'authenticated', sub } : { role: c.req.header('x-role') ?? 'anon' };
  };
  hono.post('/write/:lsn', (c) => {
    fences.onWrite(c, claimsOf(c))?.(parseLsn(c.req.param('lsn').replace('-', '/')) ?? 0n);
    return c.body(null, 201);
  });
  hono.get('/read', (c) => {
    const options = fences.readOptions(c, claimsOf(c), (m) => new ApiError(400, 'PGRST100', m));
    return c.json({ replica: options.replica !== undefined, fence: options.replica?.fence?.toString(16) ?? null });
  });
  return hono;
}

const read = async (hono: Hono, headers: Record<string, string> = {}) =>
  (await hono.request('/read', { headers })).json() as Promise<{ replica: boolean; fence: string | null }>;

describe('read-your-writes fences', () => {
  test('without replicas nothing is fenced nor answered', async () => {
    const hono = app(createReadFences({ enabled: false, ttlMs: 1000 }));
    const written = await hono.request('/write/0-10', { method: 'POST', headers: { 'x-sub': 'u1' } });
    expect(written.headers.get('x-trellis-lsn')).toBeNull();
    expect(await read(hono, { 'x-sub': 'u1' })).toEqual({ replica: false, fence: null });
  });

  test('a write fences its caller, by sub, and answers the LSN as header and cookie', async () => {
    const hono = app(createReadFences({ enabled: true, ttlMs: 60_000 }));
    const written = await hono.request('/write/1-A0', { method: 'POST', headers: { 'x-sub': 'u1' } });
    expect(written.headers.get('x-trellis-lsn')).toBe('1/A0');
    expect(written.headers.get('set-cookie')).toMatch(
      /^trellis-lsn=1\/A0; Path=\/; Max-Age=60; HttpOnly; SameSite=Lax$/,
    );
    expect(await read(hono, { 'x-sub': 'u1' })).toEqual({ replica: true, fence: '1000000a0' });
    expect(await read(hono, { 'x-sub': 'u2' })).toEqual({ replica: true, fence: null });
    // A key without a sub shares its role's fence (every service_role backend reads its writes).
    await hono.request('/write/0-5', { method: 'POST', headers: { 'x-role': 'service_role' } });
    expect(await read(hono, { 'x-role': 'service_role' })).toEqual({ replica: true, fence: '5' });
    expect(await read(hono, { 'x-role': 'anon' })).toEqual({ replica: true, fence: null });
  });

  test('the fence is the highest of the header, the cookie and the noted write; an older write does not lower it', async () => {
    const hono = app(createReadFences({ enabled: true, ttlMs: 60_000 }));
    await hono.request('/write/0-20', { method: 'POST', headers: { 'x-sub': 'u1' } });
    await hono.request('/write/0-10', { method: 'POST', headers: { 'x-sub': 'u1' } });
    expect((await read(hono, { 'x-sub': 'u1' })).fence).toBe('20');
    expect((await read(hono, { 'x-sub': 'u1', 'x-trellis-lsn': '0/30' })).fence).toBe('30');
    expect((await read(hono, { 'x-sub': 'u1', cookie: 'a=b; trellis-lsn=0/40' })).fence).toBe('40');
    expect((await read(hono, { 'x-sub': 'u1', 'x-trellis-lsn': '0/1' })).fence).toBe('20');
  });

  test('a noted write fences only for its time to live', async () => {
    const hono = app(createReadFences({ enabled: true, ttlMs: 30 }));
    await hono.request('/write/0-20', { method: 'POST', headers: { 'x-sub': 'u1' } });
    expect((await read(hono, { 'x-sub': 'u1' })).fence).toBe('20');
    await new Promise((r) => setTimeout(r, 60));
    expect((await read(hono, { 'x-sub': 'u1' })).fence).toBeNull();
  });

  test('the oldest caller is forgotten past the bound', async () => {
    const hono = app(createReadFences({ enabled: true, ttlMs: 60_000, maxCallers: 2 }));
    for (const sub of ['a', 'b', 'c']) await hono.request('/write/0-1', { method: 'POST', headers: { 'x-sub': sub } });
    expect((await read(hono, { 'x-sub': 'a' })).fence).toBeNull();
    expect((await read(hono, { 'x-sub': 'c' })).fence).toBe('1');
  });

  test.each(['garbage', '0/0/0', '', ' ', `0/${'F'.repeat(40)}`, '0/1; 0/2'])(
    'a malformed header %j is refused, naming it',
    async (value) => {
      const hono = app(createReadFences({ enabled: true, ttlMs: 1000 }));
      const res = await hono.request('/read', { headers: { 'x-trellis-lsn': value } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { message: string }).message).toContain('x-trellis-lsn must be an LSN');
    },
  );

  test('a malformed cookie is ignored', async () => {
    const hono = app(createReadFences({ enabled: true, ttlMs: 1000 }));
    expect(await read(hono, { cookie: `trellis-lsn=${'9'.repeat(100)}` })).toEqual({ replica: true, fence: null });
  });
});
