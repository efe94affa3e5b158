/** The response cache's pure rules: the `@cache` directive, durations, what may be cached and shared, keys and tags. */
import { describe, expect, test } from 'vitest';
import { parseCacheDuration, parseCacheTables } from '../../../src/config/cache-duration.js';
import { parseSupabaseToml } from '../../../src/config/toml.js';
import { classifyReach, type RelationReach } from '../../../src/rest/response-cache/classify.js';
import { parseCacheDirective } from '../../../src/rest/response-cache/directive.js';
import { etagOf, matchesIfNoneMatch, responseKey, type KeyParts } from '../../../src/rest/response-cache/key.js';

describe('the @cache directive', () => {
  test.each([
    [null, { kind: 'none' }],
    ['', { kind: 'none' }],
    ['Chat rooms, listed on the home page.', { kind: 'none' }],
    ['write to admin@cache.example.com', { kind: 'none' }],
    ['@cache 30s', { kind: 'ttl', ms: 30_000 }],
    ['Rooms.\n\n@cache 5m\nMore docs.', { kind: 'ttl', ms: 300_000 }],
    ['@cache 45', { kind: 'ttl', ms: 45_000 }],
    ['@cache 1d', { kind: 'ttl', ms: 86_400_000 }],
    ['@cache off', { kind: 'off' }],
    ['@cache OFF', { kind: 'off' }],
  ])('%j', (comment, expected) => expect(parseCacheDirective(comment)).toEqual(expected));

  test.each([
    ['@cache', /needs a duration/],
    ['@cache forever', /"forever" is not a duration/],
    ['@cache 0s', /between 1s and 1d/],
    ['@cache 2d', /between 1s and 1d/],
    ['@cache -5s', /not a duration/],
    ['@cache 30s; drop table x', /not a duration/],
    ['@cache 10s and later @cache 20s', /more than once/],
    [`@cache ${'9'.repeat(500)}`, /not a duration/],
  ])('%j is refused', (comment, message) => {
    const parsed = parseCacheDirective(comment);
    expect(parsed.kind).toBe('invalid');
    expect(parsed.kind === 'invalid' && parsed.message).toMatch(message);
  });
});

describe('durations and REST_CACHE_TABLES', () => {
  test.each([
    ['1s', 1000],
    ['90', 90_000],
    ['2h', 7_200_000],
  ])('%s', (text, ms) => expect(parseCacheDuration(text)).toEqual({ ok: true, ms }));

  test('a list of relations', () => {
    const parsed = parseCacheTables('public.rooms=30s, api.menu = 5m,');
    expect(parsed.ok && [...parsed.tables]).toEqual([
      ['public.rooms', 30_000],
      ['api.menu', 300_000],
    ]);
  });

  test.each([['rooms=30s'], ['public.rooms'], ['public.rooms=soon'], ['a.b.c=1s'], ['=1s']])('%j is refused', (text) =>
    expect(parseCacheTables(text).ok).toBe(false),
  );

  test('[api.cache] in config.toml maps onto the settings', () => {
    const parsed = parseSupabaseToml(
      '[api.cache]\nenabled = false\ntables = { "public.rooms" = "30s", "public.menu" = 60 }\n',
      {},
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.settings.REST_CACHE_TABLES?.raw).toBe('public.rooms=30s,public.menu=60');
    expect(parsed.value.settings.REST_CACHE_ENABLED?.raw).toBe('false');
    expect(parsed.value.unapplied).toEqual([]);
  });

  test('[api.cache] tables of the wrong shape is a config error', () => {
    const parsed = parseSupabaseToml('[api.cache]\ntables = ["public.rooms"]\n', {});
    expect(parsed.ok).toBe(false);
  });
});

const table = (name: string, published = true) => ({ name, kind: 'r', published });
const reach = (over: Partial<RelationReach>): RelationReach => ({
  relations: [table('public.rooms')],
  texts: [],
  functions: [],
  ...over,
});

describe('what may be cached, and shared by every user of a role', () => {
  test.each<[string, Partial<RelationReach>, boolean]>([
    ['a published table without RLS', {}, true],
    ['a read policy on a column', { texts: ['(is_public = true)'] }, true],
    [
      'a view over a published table',
      { relations: [{ name: 'public.v', kind: 'v', published: false }, table('public.rooms')] },
      true,
    ],
    ['pg_catalog functions', { texts: ['(lower(name) = name)'], functions: ['pg_catalog.lower'] }, true],
  ])('%s: cached, shared', (_, over, claimsFree) => {
    expect(classifyReach(reach(over))).toMatchObject({ cacheable: true, claimsFree });
  });

  test.each<[string, Partial<RelationReach>]>([
    ['auth.uid()', { texts: ['(owner = auth.uid())'], functions: ['auth.uid'] }],
    ['auth.jwt()', { texts: ["((auth.jwt() ->> 'tier'::text) = 'gold'::text)"], functions: ['auth.jwt'] }],
    ['the claims setting', { texts: ["(owner = (current_setting('request.jwt.claims'::text, true))::uuid)"] }],
  ])('%s: cached per caller, never shared', (_, over) => {
    expect(classifyReach(reach(over))).toMatchObject({ cacheable: true, claimsFree: false });
  });

  test.each<[string, Partial<RelationReach>, RegExp]>([
    ['an unpublished table', { relations: [table('public.rooms', false)] }, /not in the supabase_realtime publication/],
    [
      'a table a policy reads, unpublished',
      { relations: [table('public.rooms'), table('public.members', false)] },
      /public\.members/,
    ],
    ['a materialised view', { relations: [{ name: 'public.m', kind: 'm', published: false }] }, /not a table or view/],
    ['a foreign table', { relations: [{ name: 'public.f', kind: 'f', published: false }] }, /not a table or view/],
    [
      'a user function',
      { texts: ['public.is_member(room_id)'], functions: ['public.is_member'] },
      /calls public\.is_member/,
    ],
    ['a request header', { texts: ["(current_setting('request.headers'::text) IS NOT NULL)"] }, /setting other than/],
  ])('%s: not cached', (_, over, why) => {
    const result = classifyReach(reach(over));
    expect(result.cacheable).toBe(false);
    expect(!result.cacheable && result.why).toMatch(why);
  });
});

describe('keys and tags', () => {
  const parts: KeyParts = {
    method: 'GET',
    path: 'rooms',
    search: '?select=*',
    accept: undefined,
    prefer: undefined,
    range: undefined,
    acceptProfile: undefined,
    role: 'anon',
    claims: undefined,
  };
  test.each<[string, Partial<KeyParts>]>([
    ['method', { method: 'HEAD' }],
    ['path', { path: 'room' }],
    ['query', { search: '?select=id' }],
    ['Accept', { accept: 'text/csv' }],
    ['Prefer', { prefer: 'count=exact' }],
    ['Range', { range: '0-9' }],
    ['Accept-Profile', { acceptProfile: 'api' }],
    ['role', { role: 'authenticated' }],
    ['claims', { claims: { role: 'anon', sub: 'x' } }],
    // No field can spill into the next: a separator in a value is still that value.
    ['a forged separator', { path: 'rooms","?select=*', search: '' }],
  ])('%s changes the key', (_, over) => {
    expect(responseKey({ ...parts, ...over })).not.toBe(responseKey(parts));
  });

  test('claims differing in one field give different keys', () => {
    const a = responseKey({ ...parts, claims: { role: 'authenticated', sub: 'a' } });
    expect(responseKey({ ...parts, claims: { role: 'authenticated', sub: 'b' } })).not.toBe(a);
  });

  test('the ETag is a strong tag of the bytes', () => {
    expect(etagOf('[1]')).toBe(etagOf('[1]'));
    expect(etagOf('[1]')).not.toBe(etagOf('[2]'));
    expect(etagOf('[1]')).toMatch(/^"[A-Za-z0-9_-]{32}"$/);
  });

  test.each<[string | undefined, boolean]>([
    [undefined, false],
    ['*', true],
    ['"x"', true],
    ['W/"x"', true],
    ['"a", "x"', true],
    ['"y"', false],
    ['x', false],
  ])('If-None-Match %j', (header, matches) => expect(matchesIfNoneMatch(header, '"x"')).toBe(matches));
});
