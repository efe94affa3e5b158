import type { SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

/**
 * Each data API request runs with PostgREST's search_path: the schema it addresses, then
 * REST_EXTRA_SEARCH_PATH ([api] extra_search_path). A function of an exposed schema that calls
 * another of its schema unqualified, or an extension's function, finds it.
 */
const SCHEMA = `
create schema lib;
create function lib.shout(t text) returns text language sql immutable as $$ select upper(t) || '!' $$;
grant usage on schema lib to anon;
create schema app;
grant usage on schema app to anon;
create function app.helper() returns text language sql stable as $$ select 'app helper' $$;
-- plpgsql resolves names when it runs, under the caller's search_path.
create function app.who() returns text language plpgsql stable as $$ begin return helper(); end $$;
create function app.loud(t text) returns text language plpgsql stable as $$ begin return shout(t); end $$;
create table public.items (id int primary key, name text);
insert into public.items values (1, 'pen'), (2, 'ink');
grant select on public.items to anon;
-- A computed field of a public table kept in another exposed schema, not on the search path.
create function app.label(i public.items) returns text language sql stable as $$ select 'item ' || i.name $$;
create function public.path() returns text language sql stable as $$ select current_setting('search_path') $$;
`;

let server: TestServer;
let client: SupabaseClient;

beforeAll(async () => {
  server = await startTestServer({
    migrations: { '0001_schema.sql': SCHEMA },
    env: { REST_SCHEMAS: 'public,app', REST_EXTRA_SEARCH_PATH: 'public, extensions, lib' },
  });
  client = supabaseClient(server);
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe('the search_path of a data API request', () => {
  test('the addressed schema comes first, then the extra search path, each quoted', async () => {
    const { data, error } = await client.rpc('path');
    expect(error).toBeNull();
    expect(data).toBe('"public", "public", "extensions", "lib"');
  });

  test("a function of a profile's schema finds that schema's functions unqualified", async () => {
    const { data, error } = await client.schema('app').rpc('who');
    expect(error).toBeNull();
    expect(data).toBe('app helper');
  });

  test('a schema of the extra search path is found from any exposed schema', async () => {
    const { data, error } = await client.schema('app').rpc('loud', { t: 'hi' });
    expect(error).toBeNull();
    expect(data).toBe('HI!');
  });

  test('a computed field is filtered by calling it qualified, wherever its schema is', async () => {
    const { data, error } = await client.from('items').select('id, label').eq('label', 'item ink');
    expect(error).toBeNull();
    expect(data).toEqual([{ id: 2, label: 'item ink' }]);
  });
});
