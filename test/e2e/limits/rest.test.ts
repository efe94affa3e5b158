/**
 * Data API rate limits on one instance (counted in memory): RATE_LIMIT_REST=100/1m per user and,
 * for anonymous callers, per address; 429 with Retry-After and RateLimit-* headers through
 * supabase-js; service_role exempt; storage counted apart; the server healthy after a burst.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';
import { metricValue, NOTES_MIGRATION, selectTimes, signedInUser, watchedClient } from './helpers.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    migrations: NOTES_MIGRATION,
    env: { RATE_LIMIT_REST: '100/1m', RATE_LIMIT_STORAGE: '3/1m' },
  });
});
afterAll(async () => {
  await server?.stop();
});

describe('RATE_LIMIT_REST per user', () => {
  test('the 101st request in the window is 429 with Retry-After and RateLimit-* headers; another user keeps its budget', async () => {
    const ada = watchedClient(server, { token: (await signedInUser(server, 'ada@example.com')).token });
    const bea = watchedClient(server, { token: (await signedInUser(server, 'bea@example.com')).token });

    const first = await ada.client.from('notes').select('id');
    expect(first.status).toBe(200);
    expect(first.data).toHaveLength(2);
    expect(ada.last().get('ratelimit-limit')).toBe('100');
    expect(ada.last().get('ratelimit-remaining')).toBe('99');
    expect(Number(ada.last().get('ratelimit-reset'))).toBeGreaterThanOrEqual(59);
    expect(ada.last().get('ratelimit-policy')).toBe('100;w=60');

    expect(new Set(await selectTimes(ada, 99))).toEqual(new Set([200]));
    expect(ada.last().get('ratelimit-remaining')).toBe('0');

    const over = await ada.client.from('notes').select('id');
    expect(over.status).toBe(429);
    expect(over.data).toBeNull();
    expect(over.error).toMatchObject({
      code: 'over_request_rate_limit',
      message: 'Too many requests: the limit is 100 per 1m',
      details: null,
    });
    expect(over.error?.hint).toMatch(/^Retry after \d+ s\.$/);
    const retryAfter = Number(ada.last().get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(ada.last().get('ratelimit-remaining')).toBe('0');
    expect(ada.last().get('ratelimit-reset')).toBe(String(retryAfter));
    // Writes and RPCs are the same family: refused too.
    expect((await ada.client.from('notes').insert({ body: 'x' })).status).toBe(429);

    const other = await bea.client.from('notes').select('id');
    expect(other.status).toBe(200);
    expect(bea.last().get('ratelimit-remaining')).toBe('99');
  });

  test('anonymous callers are counted per address, and X-Forwarded-For is not trusted without TRUST_PROXY', async () => {
    const anon = watchedClient(server);
    expect(new Set(await selectTimes(anon, 100))).toEqual(new Set([200]));
    expect((await anon.client.from('notes').select('id')).status).toBe(429);
    const spoofing = watchedClient(server, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect((await spoofing.client.from('notes').select('id')).status).toBe(429);
    // A signed-in user on the same address has a budget of its own.
    const cy = watchedClient(server, { token: (await signedInUser(server, 'cy@example.com')).token });
    expect((await cy.client.from('notes').select('id')).status).toBe(200);
  });

  test('service_role is never limited and gets no RateLimit headers', async () => {
    const service = watchedClient(server, { key: server.serviceRoleKey });
    expect(new Set(await selectTimes(service, 150))).toEqual(new Set([200]));
    expect(service.last().get('ratelimit-limit')).toBeNull();
  });

  test('a browser may read the headers (CORS exposes them), on a refusal too', async () => {
    const res = await fetch(`${server.url}/rest/v1/notes?select=id`, {
      headers: { apikey: server.anonKey, origin: 'https://app.example' },
    });
    expect(res.status).toBe(429);
    const exposed = res.headers.get('access-control-expose-headers') ?? '';
    for (const name of ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'retry-after'])
      expect(exposed).toContain(name);
    expect(await res.json()).toMatchObject({ code: 'over_request_rate_limit' });
  });
});

describe('RATE_LIMIT_STORAGE', () => {
  test('storage has its own budget, with storage-api’s error shape', async () => {
    const dee = watchedClient(server, { token: (await signedInUser(server, 'dee@example.com')).token });
    for (let i = 0; i < 3; i++) expect((await dee.client.storage.listBuckets()).error).toBeNull();
    expect(dee.last().get('ratelimit-remaining')).toBe('0');
    const over = await dee.client.storage.listBuckets();
    expect(over.error).toMatchObject({ status: 429 });
    expect(over.error?.message).toMatch(/^Too many requests: the limit is 3 per 1m\. Retry after \d+ s\.$/);
    expect(dee.last().get('retry-after')).not.toBeNull();
    // The REST budget is untouched by storage's.
    expect((await dee.client.from('notes').select('id')).status).toBe(200);
  });

  test('a streamed download carries the headers, and the answer is whole', async () => {
    const service = supabaseClient(server, server.serviceRoleKey);
    expect((await service.storage.createBucket('files', { public: false })).error).toBeNull();
    const bytes = new Uint8Array(200_000).map((_, i) => i % 251);
    expect((await service.storage.from('files').upload('a.bin', bytes)).error).toBeNull();
    const { data } = await service.storage.from('files').createSignedUrl('a.bin', 60);
    const res = await fetch(data!.signedUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit-limit')).toBe('3');
    expect(res.headers.get('ratelimit-remaining')).toBe('2');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
  });
});

describe('after a burst', () => {
  test('a burst of concurrent refused requests leaves the server healthy, counted on /metrics', async () => {
    const before = await metricValue(server, 'trellis_rate_limited_total{family="rest"}');
    const anon = supabaseClient(server);
    const statuses = await Promise.all(
      Array.from({ length: 300 }, async () => (await anon.from('notes').select('id')).status),
    );
    expect(new Set(statuses)).toEqual(new Set([429]));
    expect(await metricValue(server, 'trellis_rate_limited_total{family="rest"}')).toBeGreaterThanOrEqual(before + 300);
    expect(await metricValue(server, 'trellis_rate_limited_total{family="storage"}')).toBeGreaterThanOrEqual(1);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    expect((await fetch(`${server.url}/ready`)).status).toBe(200);
    const service = supabaseClient(server, server.serviceRoleKey);
    expect((await service.from('notes').select('id')).data).toHaveLength(2);
  });
});
