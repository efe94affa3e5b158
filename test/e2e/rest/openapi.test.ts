/**
 * `GET /rest/v1/`: PostgREST's OpenAPI 2.0 document of the exposed schema, as the caller's role
 * sees it (openapi-mode follow-privileges), for the tools supabase-js users point at it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openApiMediaType } from '../../../src/rest/openapi.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { TYPES_SCHEMA } from '../../helpers/types-fixture.js';

const EXTRA = `
create function public.internal_only() returns int language sql stable as 'select 1';
revoke execute on function public.internal_only() from public, anon, authenticated;
comment on schema public is E'Shop API\\n\\nAuthors and their posts.';
comment on table public.posts is 'Posts';
`;

interface Doc {
  swagger: string;
  info: { title: string; description: string; version: string };
  host: string;
  basePath: string;
  paths: Record<string, Record<string, { parameters?: unknown[]; summary?: string; description?: string }>>;
  definitions: Record<
    string,
    { properties: Record<string, Record<string, unknown>>; required?: string[]; description?: string }
  >;
  parameters: Record<string, Record<string, unknown>>;
}

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    migrations: { '20240101000000_types.sql': TYPES_SCHEMA, '20240101000001_extra.sql': EXTRA },
  });
});
afterAll(() => server.stop());

const root = (key: string, headers: Record<string, string> = {}, method = 'GET') =>
  fetch(`${server.url}/rest/v1/`, { method, headers: { apikey: key, ...headers } });
const documentFor = async (key: string): Promise<Doc> => (await (await root(key)).json()) as Doc;

describe('the document', () => {
  test('Swagger 2.0 with the schema comment as title and description, labelled openapi+json', async () => {
    const response = await root(server.anonKey);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/openapi+json; charset=utf-8');
    const doc = (await response.json()) as Doc;
    expect(doc.swagger).toBe('2.0');
    expect(doc.info).toEqual({ title: 'Shop API', description: 'Authors and their posts.', version: '13.0 (Trellis)' });
    expect(doc.host).toBe(new URL(server.url).host);
    expect(doc.basePath).toBe('/rest/v1/');
  });

  test('paths per table and view with their methods, and per function (GET only when not volatile)', async () => {
    const doc = await documentFor(server.anonKey);
    const methods = (p: string) => Object.keys(doc.paths[p] ?? {}).sort();
    expect(methods('/')).toEqual(['get']);
    expect(methods('/posts')).toEqual(['delete', 'get', 'patch', 'post']);
    expect(methods('/drafts')).toEqual(['delete', 'get', 'patch', 'post']);
    expect(methods('/post_counts')).toEqual(['get']);
    expect(methods('/rpc/add')).toEqual(['get', 'post']);
    expect(methods('/rpc/touch')).toEqual(['post']);
    expect(doc.paths['/posts']?.get?.parameters).toEqual(
      [
        ...['id', 'author_id', 'title', 'body', 'meta', 'score', 'ratio', 'small', 'flags', 'published', 'uid'].map(
          (c) => `rowFilter.posts.${c}`,
        ),
        ...['day', 'at_time', 'raw', 'status'].map((c) => `rowFilter.posts.${c}`),
        ...['select', 'order', 'range', 'rangeUnit', 'offset', 'limit', 'preferCount'],
      ].map((name) => ({ $ref: `#/parameters/${name}` })),
    );
    expect(doc.paths['/posts']?.post?.parameters).toEqual(
      ['body.posts', 'select', 'preferPost'].map((name) => ({ $ref: `#/parameters/${name}` })),
    );
    expect(doc.paths['/authors']?.get).toMatchObject({ summary: 'People who write', description: 'Each has posts.' });
    expect(doc.paths['/rpc/add']?.get).toMatchObject({
      summary: 'Adds two numbers',
      parameters: [
        { name: 'a', required: true, in: 'query', format: 'int32', type: 'integer' },
        { name: 'b', required: false, in: 'query', format: 'int32', type: 'integer' },
      ],
    });
    expect(doc.paths['/rpc/add']?.post?.parameters?.[0]).toEqual({
      name: 'args',
      required: true,
      in: 'body',
      schema: {
        description: 'Adds two numbers',
        type: 'object',
        properties: { a: { format: 'int32', type: 'integer' }, b: { format: 'int32', type: 'integer' } },
        required: ['a'],
      },
    });
  });

  test('definitions: types and formats, keys, defaults, enums, lengths, required columns, comments', async () => {
    const doc = await documentFor(server.anonKey);
    const authors = doc.definitions.authors;
    expect(authors?.description).toBe('People who write\n\nEach has posts.');
    expect(authors?.required).toEqual(['id', 'name', 'tags', 'created_at']);
    expect(authors?.properties).toMatchObject({
      id: { description: 'Note:\nThis is a Primary Key.<pk/>', format: 'int64', type: 'integer' },
      name: { description: 'Display name', format: 'text', type: 'string' },
      mood: { default: 'happy', enum: ['happy', 'sad', 'so-so'], type: 'string' },
      tags: { format: 'text[]', type: 'array', items: { type: 'string' } },
      created_at: { format: 'timestamp with time zone', type: 'string' },
    });
    const posts = doc.definitions.posts?.properties ?? {};
    expect(posts.author_id).toEqual({
      description: "Note:\nThis is a Foreign Key to `authors.id`.<fk table='authors' column='id'/>",
      format: 'int64',
      type: 'integer',
    });
    expect(posts.title).toEqual({ format: 'character varying', maxLength: 120, type: 'string' });
    expect(posts.status).toEqual({ default: 'draft', format: 'text', type: 'string' });
    expect(posts.score).toEqual({ default: 0, format: 'numeric', type: 'number' });
    expect(posts.body).toEqual({ format: 'jsonb' });
    expect(posts.small).toEqual({ format: 'int32', type: 'integer' });
    expect(posts.published).toEqual({ default: false, format: 'boolean', type: 'boolean' });
    // A serial's default is an expression, not a value a client could send.
    expect(posts.id).not.toHaveProperty('default');
    // A view's columns are all nullable: no required list. Its keys are its table's.
    expect(doc.definitions.post_titles).not.toHaveProperty('required');
    expect(doc.definitions.post_authors?.properties).toMatchObject({
      id: { description: 'Note:\nThis is a Primary Key.<pk/>' },
      writer: { description: "Note:\nThis is a Foreign Key to `authors.id`.<fk table='authors' column='id'/>" },
    });
    expect(doc.parameters['rowFilter.authors.name']).toEqual({
      name: 'name',
      description: 'Display name',
      required: false,
      in: 'query',
      type: 'string',
    });
  });

  test("only what the caller's role may use: a revoked table and function are left out for anon", async () => {
    const anon = await documentFor(server.anonKey);
    expect(anon.paths).not.toHaveProperty('/secrets');
    expect(anon.definitions).not.toHaveProperty('secrets');
    expect(anon.paths).not.toHaveProperty('/rpc/internal_only');
    const service = await documentFor(server.serviceRoleKey);
    expect(service.paths).toHaveProperty('/secrets');
    expect(service.paths).toHaveProperty('/rpc/internal_only');
  });
});

describe('the request', () => {
  test('Accept: application/json is answered as JSON; HEAD has the headers and no body', async () => {
    const json = await root(server.anonKey, { accept: 'application/json' });
    expect(json.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(((await json.json()) as Doc).swagger).toBe('2.0');
    const head = await root(server.anonKey, { accept: 'application/openapi+json' }, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('application/openapi+json; charset=utf-8');
    expect(await head.text()).toBe('');
    // Without the trailing slash too, as PostgREST's root.
    const bare = await fetch(`${server.url}/rest/v1`, { headers: { apikey: server.anonKey } });
    expect(((await bare.json()) as Doc).swagger).toBe('2.0');
  });

  test.each([
    ['an unavailable media type', { accept: 'text/csv' }, 406, 'PGRST107'],
    ['a schema not exposed', { 'accept-profile': 'auth' }, 406, 'PGRST106'],
    ['a bad token', { authorization: 'Bearer not-a-jwt' }, 401, 'PGRST301'],
  ])('%s is refused (%s)', async (_name, headers, status, code) => {
    const response = await root(server.anonKey, headers);
    expect(response.status).toBe(status);
    expect(((await response.json()) as { code: string }).code).toBe(code);
  });

  test('no API key: 401, nothing of the schema revealed', async () => {
    const response = await fetch(`${server.url}/rest/v1/`);
    expect(response.status).toBe(401);
    expect(await response.text()).not.toContain('authors');
  });

  test('a path under the root that is no table still answers 404', async () => {
    const response = await fetch(`${server.url}/rest/v1/a/b`, { headers: { apikey: server.anonKey } });
    expect(response.status).toBe(404);
  });
});

test.each([
  [undefined, 'application/openapi+json'],
  ['*/*', 'application/openapi+json'],
  ['application/openapi+json', 'application/openapi+json'],
  ['application/json', 'application/json'],
  ['text/html, application/json;q=0.9', 'application/json'],
  ['text/csv', undefined],
])('Accept %s answers %s', (accept, media) => {
  expect(openApiMediaType(accept)).toBe(media);
});
