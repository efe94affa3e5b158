import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

/**
 * `Accept: application/geo+json` (postgrest-js `.geojson()`) where PostGIS is installed: the
 * server of TEST_DATABASE_URL needs the PostGIS package (.ci/run installs it; the embedded
 * PostgreSQL has none). Skipped with a reason elsewhere, never under CI=true.
 */
async function postgisAvailable(): Promise<string | undefined> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) return 'TEST_DATABASE_URL is not set and the embedded PostgreSQL has no PostGIS';
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const found = await client.query(`select 1 from pg_available_extensions where name = 'postgis'`);
    return found.rowCount ? undefined : 'the PostgreSQL server of TEST_DATABASE_URL has no PostGIS package';
  } finally {
    await client.end();
  }
}

const missing = await postgisAvailable();
const mustRun = process.env.CI === 'true';
if (missing && !mustRun) console.log(`geojson: skipped: ${missing}`);

const SHOPS = `
create extension if not exists postgis schema extensions;
create table public.shops (id int primary key, address text, shop_geom extensions.geometry(point, 4326));
insert into public.shops values (1, '1369 Cambridge St', extensions.st_setsrid(extensions.st_makepoint(-71.10044, 42.373695), 4326)),
  (2, 'Nowhere', null);
grant select on public.shops to anon;
create table public.plain (id int primary key);
grant select on public.plain to anon;
`;

describe.runIf(!missing || mustRun)('geo+json', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ migrations: { '20240101000000_shops.sql': SHOPS } });
  });
  afterAll(() => server.stop());

  test('rows answer as a FeatureCollection: the geometry column as geometry, the others as properties', async () => {
    const client = supabaseClient(server);
    const res = await client.from('shops').select().eq('id', 1).geojson();
    expect(res.error).toBeNull();
    expect(res.data).toEqual({
      type: 'FeatureCollection',
      features: [
        {
          type: 'Feature',
          geometry: { type: 'Point', coordinates: [-71.10044, 42.373695] },
          properties: { id: 1, address: '1369 Cambridge St' },
        },
      ],
    });
    const none = await client.from('shops').select().eq('id', 99).geojson();
    expect(none.data).toEqual({ type: 'FeatureCollection', features: [] });
  });

  test('the answer is labelled application/geo+json; no rows are an empty collection', async () => {
    const res = await fetch(`${server.url}/rest/v1/plain?select=id`, {
      headers: { apikey: server.anonKey, accept: 'application/geo+json' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/geo+json; charset=utf-8');
    expect(await res.json()).toEqual({ type: 'FeatureCollection', features: [] });
  });
});

describe('geo+json without PostGIS', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      migrations: {
        '20240101000000_plain.sql':
          'create table public.plain (id int primary key); grant select on public.plain to anon;',
      },
    });
  });
  afterAll(() => server.stop());

  test('406 PGRST107, as PostgREST answers a media type it cannot produce', async () => {
    const res = await supabaseClient(server).from('plain').select().geojson();
    expect(res.status).toBe(406);
    expect(res.error).toMatchObject({
      code: 'PGRST107',
      message: 'None of these media types are available: application/geo+json',
    });
  });
});
