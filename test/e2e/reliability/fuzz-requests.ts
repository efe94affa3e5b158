/**
 * Random requests for the whole-API fuzz run, pure and seeded: each starts as a request
 * supabase-js would send (one per route of every surface) and is then mutated: another method,
 * an edited path, query strings from PostgREST's grammar, JSON with big and exotic numbers,
 * unicode, NUL and huge strings, random and hostile headers, bodies cut or spliced.
 */
import { mutate, pick } from '../../rest/fuzz-inputs.js';
import type { RawRequest } from './raw-http.js';

export interface FuzzIdentity {
  readonly userId: string;
  readonly tokens: Readonly<
    Record<'anon' | 'service' | 'user' | 'forged' | 'expired' | 'algNone' | 'superuser', string>
  >;
}

type Random = () => number;
interface Template {
  readonly method: string;
  readonly path: string;
  readonly query?: string;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** The body is bytes, not JSON (an upload). */
  readonly raw?: boolean;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const NUMBERS = [
  '0',
  '-0',
  '1e400',
  '-1e400',
  '9007199254740993',
  '1234567890123456789',
  '12345678901234567890123456789',
  '1.5e-400',
  '0.1',
  '2147483648',
  '-9223372036854775809',
  '1E2',
  '3.14159265358979323846264338327950288',
];
const STRINGS = [
  '',
  'a',
  'é名🙂',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\u202e',
  "'; drop table notes; --",
  '" or 1=1 --',
  '../../etc/passwd',
  '%00',
  '\\',
  '*',
  '%',
  '_',
  'null',
  'true',
  '{"a":1}',
  '[1,2]',
  '(a,b)',
  'x'.repeat(300),
];
const KEYS = [
  'ban_duration',
  'role',
  'friendly_name',
  'factor_type',
  'user_metadata',
  'app_metadata',
  'title',
  'body',
  'n',
  'tags',
  'id',
  'owner',
  'email',
  'password',
  'data',
  'prefix',
  'search',
  'limit',
  'offset',
  'sortBy',
  'prefixes',
  'paths',
  'expiresIn',
  'bucketId',
  'sourceKey',
  'destinationKey',
  'messages',
  'topic',
  'event',
  'payload',
  'private',
  'name',
  'public',
  'file_size_limit',
  'allowed_mime_types',
  'refresh_token',
  'type',
  'token',
  'a',
  'b',
  't',
  '\u0000',
  'ti\u0000tle',
  '',
];
const PGRST_PIECES = [
  'select=*',
  'select=id,title,body->>k,n::text',
  'select=id,notes(id)',
  'select=count()',
  'id=eq.1',
  'id=in.(1,2,3)',
  'title=like.*a*',
  'title=ilike.A%25',
  'title=is.null',
  'n=gte.5',
  'tags=cs.{a,b}',
  'body=cs.{"k":1}',
  'or=(id.eq.1,title.eq.x)',
  'and=(n.gt.1,not.n.eq.3)',
  'order=id.desc.nullslast',
  'order=created_at',
  'limit=10',
  'offset=5',
  'title=fts.word',
  'body->k=eq.1',
  'body->>k=eq.%00',
  'n=eq.1e400',
  'id=eq.99999999999999999999',
  'created_at=gt.not-a-date',
  'columns=title,n',
  'on_conflict=id',
  'title=eq.%00',
  'id=not.in.()',
  'n=eq(any).{1,2}',
];
const HEADER_VALUES: Record<string, readonly string[]> = {
  'content-type': [
    'application/json',
    'text/plain',
    'application/octet-stream',
    'multipart/form-data',
    'multipart/form-data; boundary=x',
    'image/png',
    'application/vnd.pgrst.object+json',
    'text/csv',
    'x/y; charset=utf-16',
  ],
  prefer: [
    'return=representation',
    'return=minimal',
    'count=exact',
    'count=planned',
    'resolution=merge-duplicates',
    'resolution=ignore-duplicates',
    'missing=default',
    'handling=strict',
    'tx=rollback',
    'params=single-object',
    'return=headers-only, count=estimated',
  ],
  accept: [
    'application/json',
    'application/vnd.pgrst.object+json',
    'text/csv',
    'application/geo+json',
    'application/openapi+json',
    '*/*',
    'text/html',
  ],
  range: ['0-9', '5-1', '0-', 'items=0-2', '-5', '99999999999999999999-1'],
  'accept-profile': ['public', 'storage', 'auth', 'pg_catalog', 'x'],
  'content-profile': ['public', 'storage', 'nope'],
  'x-upsert': ['true', 'false', 'yes'],
  'cache-control': ['max-age=60', 'no-cache', ''],
  'x-client-info': ['supabase-js/2.0.0'],
  'x-supabase-api-version': ['2024-01-01', '1999-01-01', 'x'],
  'content-length': ['0', '99999999999', 'abc', '-1'],
  'transfer-encoding': ['chunked'],
};

/** A random JSON value: big and exotic numbers stay as text, so they reach the server as written. */
function randomJson(random: Random, depth = 0): string {
  const r = random();
  if (depth > 3 || r < 0.3) return JSON.stringify(pick<string>(random, STRINGS));
  if (r < 0.5) return pick<string>(random, NUMBERS);
  if (r < 0.58) return pick<string>(random, ['true', 'false', 'null']);
  if (r < 0.62) return JSON.stringify('y'.repeat(Math.floor(random() * 400_000)));
  if (r < 0.8) {
    const n = Math.floor(random() * 4);
    return `[${Array.from({ length: n }, () => randomJson(random, depth + 1)).join(',')}]`;
  }
  const n = Math.floor(random() * 4);
  return `{${Array.from({ length: n }, () => `${JSON.stringify(pick<string>(random, KEYS))}:${randomJson(random, depth + 1)}`).join(',')}}`;
}

/** The routes of every surface, as supabase-js calls them. */
function templates(id: FuzzIdentity): Template[] {
  const me = id.userId;
  return [
    { method: 'GET', path: '/rest/v1/notes', query: 'select=*&order=id.desc&limit=5' },
    { method: 'HEAD', path: '/rest/v1/notes', query: 'select=*', headers: { prefer: 'count=exact' } },
    {
      method: 'POST',
      path: '/rest/v1/notes',
      body: { title: 'hello', body: { k: 1 }, n: 3, tags: ['a'] },
      headers: { prefer: 'return=representation' },
    },
    {
      method: 'POST',
      path: '/rest/v1/notes',
      query: 'on_conflict=id',
      body: [{ id: 1, title: 'up' }],
      headers: { prefer: 'resolution=merge-duplicates' },
    },
    { method: 'PATCH', path: '/rest/v1/notes', query: 'id=eq.1', body: { title: 'edited' } },
    { method: 'DELETE', path: '/rest/v1/notes', query: 'id=eq.1' },
    { method: 'POST', path: '/rest/v1/rpc/echo', body: { t: 'hi' } },
    { method: 'GET', path: '/rest/v1/rpc/add_them', query: 'a=1&b=2' },
    { method: 'GET', path: '/rest/v1/', query: '' },
    { method: 'POST', path: '/auth/v1/signup', body: { email: 'fuzz@example.com', password: 'fuzz password 1' } },
    {
      method: 'POST',
      path: '/auth/v1/token',
      query: 'grant_type=password',
      body: { email: 'mallory@example.com', password: 'mallory password 123' },
    },
    { method: 'POST', path: '/auth/v1/token', query: 'grant_type=refresh_token', body: { refresh_token: 'abcdefgh' } },
    { method: 'GET', path: '/auth/v1/user' },
    { method: 'PUT', path: '/auth/v1/user', body: { data: { nick: 'm' } } },
    { method: 'POST', path: '/auth/v1/otp', body: { email: 'otp@example.com', create_user: false } },
    { method: 'POST', path: '/auth/v1/recover', body: { email: 'mallory@example.com' } },
    { method: 'POST', path: '/auth/v1/verify', body: { type: 'email', email: 'mallory@example.com', token: '123456' } },
    { method: 'POST', path: '/auth/v1/logout', query: 'scope=local' },
    { method: 'GET', path: '/auth/v1/settings' },
    { method: 'POST', path: '/auth/v1/factors', body: { factor_type: 'totp', friendly_name: 'f' } },
    { method: 'GET', path: '/auth/v1/admin/users', query: 'page=1&per_page=5' },
    { method: 'GET', path: `/auth/v1/admin/users/${me}` },
    {
      method: 'PUT',
      path: `/auth/v1/admin/users/${me}`,
      body: { ban_duration: '1s', user_metadata: { a: 1 }, app_metadata: { plan: 'x' } },
    },
    { method: 'POST', path: '/auth/v1/admin/generate_link', body: { type: 'magiclink', email: 'mallory@example.com' } },
    { method: 'POST', path: '/auth/v1/invite', body: { email: 'invited@example.com', data: { a: 1 } } },
    { method: 'POST', path: '/auth/v1/resend', body: { type: 'signup', email: 'mallory@example.com' } },
    {
      method: 'POST',
      path: '/auth/v1/admin/users',
      body: { email: 'made@example.com', password: 'made password 1', user_metadata: { a: 1 } },
    },
    { method: 'GET', path: '/storage/v1/bucket', query: 'limit=5&search=d' },
    { method: 'GET', path: '/storage/v1/bucket/docs' },
    {
      method: 'POST',
      path: '/storage/v1/bucket',
      body: { id: 'fz', name: 'fz', public: false, file_size_limit: '1MB', allowed_mime_types: ['text/plain'] },
    },
    { method: 'PUT', path: '/storage/v1/bucket/fz', body: { public: true } },
    { method: 'POST', path: '/storage/v1/bucket/fz/empty' },
    { method: 'DELETE', path: '/storage/v1/bucket/fz' },
    {
      method: 'POST',
      path: '/storage/v1/object/list/docs',
      body: { prefix: me, limit: 10, offset: 0, sortBy: { column: 'name', order: 'asc' }, search: '' },
    },
    {
      method: 'POST',
      path: `/storage/v1/object/docs/${me}/f.txt`,
      body: 'file body',
      raw: true,
      headers: {
        'content-type': 'text/plain',
        'x-upsert': 'true',
        'x-metadata': Buffer.from('{"k":1}').toString('base64'),
      },
    },
    { method: 'GET', path: `/storage/v1/object/authenticated/docs/${me}/f.txt` },
    { method: 'GET', path: `/storage/v1/object/info/docs/${me}/f.txt` },
    { method: 'GET', path: '/storage/v1/object/public/pics/a.png' },
    {
      method: 'GET',
      path: '/storage/v1/render/image/authenticated/docs/a.png',
      query: 'width=10&height=10&resize=cover',
    },
    {
      method: 'POST',
      path: `/storage/v1/object/sign/docs/${me}/f.txt`,
      body: { expiresIn: 60, transform: { width: 5 } },
    },
    { method: 'POST', path: '/storage/v1/object/sign/docs', body: { expiresIn: 60, paths: [`${me}/f.txt`] } },
    { method: 'GET', path: `/storage/v1/object/sign/docs/${me}/f.txt`, query: 'token=abc' },
    { method: 'POST', path: `/storage/v1/object/upload/sign/docs/${me}/g.txt` },
    {
      method: 'PUT',
      path: `/storage/v1/object/upload/sign/docs/${me}/g.txt`,
      query: 'token=abc',
      body: 'x',
      raw: true,
    },
    {
      method: 'POST',
      path: '/storage/v1/object/move',
      body: { bucketId: 'docs', sourceKey: `${me}/f.txt`, destinationKey: `${me}/h.txt` },
    },
    {
      method: 'POST',
      path: '/storage/v1/object/copy',
      body: { bucketId: 'docs', sourceKey: `${me}/h.txt`, destinationKey: `${me}/f.txt` },
    },
    { method: 'DELETE', path: '/storage/v1/object/docs', body: { prefixes: [`${me}/f.txt`] } },
    {
      method: 'POST',
      path: '/realtime/v1/api/broadcast',
      body: { messages: [{ topic: 'room:a', event: 'e', payload: { n: 1 }, private: true }] },
    },
    { method: 'POST', path: '/realtime/v1/api/broadcast/room:a/events/e', query: 'private=true', body: { n: 1 } },
    { method: 'GET', path: '/health' },
    { method: 'GET', path: '/ready' },
  ];
}

/** Edits one JSON body in place of a value: a key or value replaced by a random one. */
function mutateJson(random: Random, body: unknown): string {
  const text = JSON.stringify(body ?? {});
  const r = random();
  if (r < 0.35) return randomJson(random);
  if (r < 0.6 && body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const keys = Object.keys(body);
    const key = random() < 0.7 && keys.length > 0 ? pick<string>(random, keys) : pick<string>(random, KEYS);
    const others = keys
      .filter((k) => k !== key)
      .map((k) => `${JSON.stringify(k)}:${JSON.stringify((body as Record<string, unknown>)[k])}`);
    return `{${[...others, `${JSON.stringify(key)}:${randomJson(random)}`].join(',')}}`;
  }
  if (r < 0.8) return mutate(random, text, [text, ...STRINGS, ...NUMBERS]);
  if (r < 0.85) return '['.repeat(5000) + ']'.repeat(5000);
  return text.slice(0, Math.floor(random() * text.length));
}

/** Percent-encodes what cannot stand in a request line, byte by byte (a lone surrogate too, as U+FFFD). */
function escapeUnsafe(text: string): string {
  return text.replace(/[^\x21-\x7e]|#/gu, (ch) =>
    [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join(''),
  );
}

function mutatePath(random: Random, path: string): string {
  const out = mutateRawPath(random, path);
  // Now and then left raw: Node's parser must answer a raw space or NUL with a 400 by itself.
  return random() < 0.05 ? out : escapeUnsafe(out);
}

function mutateRawPath(random: Random, path: string): string {
  const r = random();
  if (r < 0.3) return mutate(random, path, [path, '%00', '%2F', '%2e%2e', '%zz', '//', '/./', '%C0%AE']);
  if (r < 0.55) return `${path}/${escapeUnsafe(pick<string>(random, STRINGS))}`;
  if (r < 0.75) {
    const parts = path.split('/');
    parts[1 + Math.floor(random() * (parts.length - 1))] = escapeUnsafe(pick<string>(random, STRINGS));
    return parts.join('/');
  }
  return path.replace(
    /[^/]+$/,
    (last) => `${last}${pick<string>(random, ['%00', '%', '..', '%20', '%ff', 'x'.repeat(2000)])}`,
  );
}

function randomQueryString(random: Random, base: string): string {
  const parts = base === '' ? [] : base.split('&');
  const n = Math.floor(random() * 4);
  for (let i = 0; i < n; i++)
    parts.push(
      random() < 0.7
        ? pick<string>(random, PGRST_PIECES)
        : mutate(random, pick<string>(random, PGRST_PIECES), PGRST_PIECES),
    );
  // Percent-encode what would break the request line; leave %-escapes as they are.
  return parts.map(escapeUnsafe).join('&');
}

function authHeaders(random: Random, id: FuzzIdentity): Record<string, string> {
  const r = random();
  const bearer = pick<keyof FuzzIdentity['tokens']>(random, [
    'user',
    'user',
    'user',
    'service',
    'anon',
    'forged',
    'expired',
    'algNone',
    'superuser',
  ]);
  if (r < 0.04) return {};
  if (r < 0.08) return { apikey: 'not-a-key' };
  if (r < 0.12)
    return {
      apikey: id.tokens.anon,
      authorization: pick<string>(random, [
        'Bearer',
        'Bearer ',
        'Basic abc',
        `Bearer ${id.tokens.user}x`,
        'Bearer a.b.c',
        `Bearer ${'e'.repeat(5000)}`,
      ]),
    };
  return { apikey: id.tokens.anon, authorization: `Bearer ${id.tokens[bearer]}` };
}

/** One request of a run: a template, then zero or more mutations. */
export function randomRequest(random: Random, id: FuzzIdentity): RawRequest {
  const t = pick<Template>(random, templates(id));
  let method = t.method;
  let path = t.path;
  let query = t.query ?? '';
  const headers: Record<string, string> = { ...authHeaders(random, id), ...t.headers };
  let body: string | Buffer | undefined =
    // A raw body (an upload) is text; anything else is sent as JSON.
    t.body === undefined ? undefined : t.raw && typeof t.body === 'string' ? t.body : JSON.stringify(t.body);
  if (t.body !== undefined && !t.raw) headers['content-type'] ??= 'application/json';

  if (random() < 0.1) method = pick<string>(random, METHODS);
  if (random() < 0.3) path = mutatePath(random, path);
  if (random() < 0.5) query = randomQueryString(random, query);
  if (random() < 0.6)
    body =
      t.raw && random() < 0.5
        ? Buffer.from(mutate(random, String(t.body), STRINGS), 'utf8')
        : mutateJson(random, t.raw ? {} : t.body);
  const extra = Math.floor(random() * 3);
  for (let i = 0; i < extra; i++) {
    const name = pick<string>(random, Object.keys(HEADER_VALUES));
    if (name === 'content-length' || name === 'transfer-encoding') continue; // framing is the raw client's, kept consistent
    headers[name] = pick<string>(random, HEADER_VALUES[name] as readonly string[]);
  }
  if (random() < 0.05) headers['x-metadata'] = Buffer.from(mutateJson(random, { k: 1 })).toString('base64');
  return {
    method,
    path: query === '' ? path : `${path}?${query}`,
    headers,
    ...(body !== undefined && method !== 'GET' && method !== 'HEAD' && { body }),
  };
}
