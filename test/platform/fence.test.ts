import { Hono } from 'hono';
import { describe, expect, test } from 'vitest';
import { parseLsn } from '../../src/db/index.js';
import { ApiError } from '../../src/errors.js';
import { createReadFences as fencesOver, type ReadFences } from '../../src/platform/fence/fences.js';
import { createReadFences } from '../../src/platform/fence/index.js';
import { createMemoryFenceStore } from '../../src/platform/fence/memory.js';
import { createRedisFenceStore } from '../../src/platform/fence/redis.js';
import { createLogger } from '../../src/platform/logger.js';

/** One app that writes (notes `lsn`) and one route that answers the fence a read would carry. */
function app(fences: ReadFences) {
  const hono = new Hono();
  hono.onError((err, c) => c.json({ message: err.message }, err instanceof ApiError ? 400 : 500));
  const claimsOf = (c: { req: { header(n: string): string | undefined } }) => {
    const sub = c.req.header('x-sub');
    return sub ? { role: 'authenticated', sub } : { role: c.req.header('x-role') ?? 'anon' };
  };
  hono.post('/write/:lsn', async (c) => {
    await fences.onWrite(c, claimsOf(c))?.(parseLsn(c.req.param('lsn').replace('-', '/')) ?? 0n);
    return c.body(null, 201);
  });
  hono.get('/read', async (c) => {
    const options = await fences.readOptions(c, claimsOf(c), (m: string) => new ApiError(400, 'PGRST100', m));
    return c.json({ replica: options.replica !== undefined, fence: options.replica?.fence?.toString(16) ?? null });
  });
  return hono;
}

const memoryFences = (o: { enabled: boolean; ttlMs: number }) => fencesOver({ ...o, store: createMemoryFenceStore() });
const log = createLogger({ level: 'silent', pretty: false });

const read = async (hono: Hono, headers: Record<string, string> = {}) =>
  (await hono.request('/read', { headers })).json() as Promise<{ replica: boolean; fence: string | null }>;

describe('read-your-writes fences', () => {
  test('without replicas nothing is fenced nor answered', async () => {
    const hono = app(memoryFences({ enabled: false, ttlMs: 1000 }));
    const written = await hono.request('/write/0-10', { method: 'POST', headers: { 'x-sub': 'u1' } });
    expect(written.headers.get('x-trellis-lsn')).toBeNull();
    expect(await read(hono, { 'x-sub': 'u1' })).toEqual({ replica: false, fence: null });
  });

  test('a write fences its caller, by sub, and answers the LSN as header and cookie', async () => {
    const hono = app(memoryFences({ enabled: true, ttlMs: 60_000 }));
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
    const hono = app(memoryFences({ enabled: true, ttlMs: 60_000 }));
    await hono.request('/write/0-20', { method: 'POST', headers: { 'x-sub': 'u1' } });
    await hono.request('/write/0-10', { method: 'POST', headers: { 'x-sub': 'u1' } });
    expect((await read(hono, { 'x-sub': 'u1' })).fence).toBe('20');
    expect((await read(hono, { 'x-sub': 'u1', 'x-trellis-lsn': '0/30' })).fence).toBe('30');
    expect((await read(hono, { 'x-sub': 'u1', cookie: 'a=b; trellis-lsn=0/40' })).fence).toBe('40');
    expect((await read(hono, { 'x-sub': 'u1', 'x-trellis-lsn': '0/1' })).fence).toBe('20');
  });

  test('a noted write fences only for its time to live', async () => {
    const hono = app(memoryFences({ enabled: true, ttlMs: 30 }));
    await hono.request('/write/0-20', { method: 'POST', headers: { 'x-sub': 'u1' } });
    expect((await read(hono, { 'x-sub': 'u1' })).fence).toBe('20');
    await new Promise((r) => setTimeout(r, 60));
    expect((await read(hono, { 'x-sub': 'u1' })).fence).toBeNull();
  });

  test('the oldest caller is forgotten past the bound', async () => {
    const hono = app(fencesOver({ enabled: true, ttlMs: 60_000, store: createMemoryFenceStore(2) }));
    for (const sub of ['a', 'b', 'c']) await hono.request('/write/0-1', { method: 'POST', headers: { 'x-sub': sub } });
    expect((await read(hono, { 'x-sub': 'a' })).fence).toBeNull();
    expect((await read(hono, { 'x-sub': 'c' })).fence).toBe('1');
  });

  test.each(['garbage', '0/0/0', '', ' ', `0/${'F'.repeat(40)}`, '0/1; 0/2'])(
    'a malformed header %j is refused, naming it',
    async (value) => {
      const hono = app(memoryFences({ enabled: true, ttlMs: 1000 }));
      const res = await hono.request('/read', { headers: { 'x-trellis-lsn': value } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { message: string }).message).toContain('x-trellis-lsn must be an LSN');
    },
  );

  test('a malformed cookie is ignored', async () => {
    const hono = app(memoryFences({ enabled: true, ttlMs: 1000 }));
    expect(await read(hono, { cookie: `trellis-lsn=${'9'.repeat(100)}` })).toEqual({ replica: true, fence: null });
  });
});

describe.skipIf(!process.env.REDIS_URL && !process.env.CI)('fences shared through Redis', () => {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  test('a write through one instance fences the caller on another; an older LSN does not lower it', async () => {
    const sub = `u-${Math.random().toString(36).slice(2)}`;
    const one = createReadFences({ enabled: true, ttlMs: 60_000, redisUrl, log });
    const two = createReadFences({ enabled: true, ttlMs: 60_000, redisUrl, log });
    try {
      await app(one).request('/write/2-0', { method: 'POST', headers: { 'x-sub': sub } });
      await app(one).request('/write/1-FFFFFFFF', { method: 'POST', headers: { 'x-sub': sub } });
      expect((await read(app(two), { 'x-sub': sub })).fence).toBe('200000000');
      expect((await read(app(two), { 'x-sub': `${sub}-other` })).fence).toBeNull();
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  test('while Redis is unreachable, the instance that took the write still fences it and nothing fails', async () => {
    const store = createRedisFenceStore({ redisUrl: 'redis://127.0.0.1:1', log });
    const fences = fencesOver({ enabled: true, ttlMs: 60_000, store });
    try {
      const written = await app(fences).request('/write/0-99', { method: 'POST', headers: { 'x-sub': 'u1' } });
      expect(written.status).toBe(201);
      expect((await read(app(fences), { 'x-sub': 'u1' })).fence).toBe('99');
    } finally {
      await store.close();
    }
  });
});
