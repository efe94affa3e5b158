/**
 * `crud`: a booking catalogue, read-heavy as our users' plans describe it. Each turn a signed-in
 * user browses listings of a city (50 %), looks at their own bookings with the listing embedded
 * (30 %), or books (20 %): 80 % reads, 20 % writes, under row-level security.
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { FatalError } from '../../errors.js';
import type { VirtualUser } from '../runner.js';
import type { Target } from '../target.js';
import { accessToken, signingSecret, syntheticUserId } from '../tokens.js';
import { urlFor } from '../target.js';
import {
  isNumber,
  isOptionalString,
  sharedField,
  type ClientTarget,
  type PreparedScenario,
  type Scenario,
  type ScenarioClients,
  type SharedSetup,
} from './scenario.js';

const CITIES = 20;
const LISTINGS = 1000;

const SCHEMA = `-- trellis bench crud: a booking catalogue (tables prefixed bench_).
create table if not exists public.bench_listings (
  id bigint generated always as identity primary key,
  city text not null,
  title text not null,
  price_cents int not null check (price_cents > 0)
);
create index if not exists bench_listings_city_price on public.bench_listings (city, price_cents);
create table if not exists public.bench_bookings (
  id bigint generated always as identity primary key,
  listing_id bigint not null references public.bench_listings (id),
  user_id uuid not null default auth.uid(),
  nights int not null check (nights between 1 and 30),
  created_at timestamptz not null default now()
);
create index if not exists bench_bookings_user on public.bench_bookings (user_id, created_at desc);
alter table public.bench_listings enable row level security;
alter table public.bench_bookings enable row level security;
drop policy if exists "listings are public" on public.bench_listings;
create policy "listings are public" on public.bench_listings for select using (true);
drop policy if exists "own bookings" on public.bench_bookings;
create policy "own bookings" on public.bench_bookings for select to authenticated using (user_id = auth.uid());
drop policy if exists "book as yourself" on public.bench_bookings;
create policy "book as yourself" on public.bench_bookings for insert to authenticated with check (user_id = auth.uid());
`;

/** The floor's statements: what Trellis's planner sends for the same requests, written by hand. */
const FLOOR_SQL = {
  browse: `select coalesce(json_agg(t), '[]')::text from (select id, title, price_cents from public.bench_listings where city = $1 order by price_cents limit 20) t`,
  bookings: `select coalesce(json_agg(t), '[]')::text from (select b.id, b.nights, (select json_build_object('title', l.title) from public.bench_listings l where l.id = b.listing_id) as bench_listings from public.bench_bookings b order by b.created_at desc limit 10) t`,
  book: `insert into public.bench_bookings (listing_id, nights) values ($1, $2)`,
};

const ok = async (response: Response): Promise<void> => {
  if (!response.ok) throw new Error(`${response.status} ${(await response.text()).slice(0, 200)}`);
  await response.arrayBuffer();
};

async function seed(target: ClientTarget): Promise<void> {
  const headers = {
    apikey: target.anonKey,
    authorization: `Bearer ${target.serviceRoleKey}`,
    'content-type': 'application/json',
  };
  const head = await fetch(`${target.url}/rest/v1/bench_listings?select=id`, {
    method: 'HEAD',
    headers: { ...headers, prefer: 'count=exact' },
  });
  if (head.status === 404) {
    throw new FatalError(
      'the target has no bench_listings table: apply the schema `trellis bench crud --print-schema` prints as a migration first',
      '--target',
    );
  }
  const have = Number(head.headers.get('content-range')?.split('/')[1] ?? 0);
  if (have >= LISTINGS) return;
  const rows = Array.from({ length: LISTINGS - have }, (_, i) => ({
    city: `city-${i % CITIES}`,
    title: `listing ${have + i}`,
    price_cents: 5000 + ((i * 7919) % 50000),
  }));
  await ok(
    await fetch(`${target.url}/rest/v1/bench_listings`, {
      method: 'POST',
      headers: { ...headers, prefer: 'return=minimal' },
      body: JSON.stringify(rows),
    }),
  );
}

async function startFloor(dbUrl: string): Promise<{ url: string; pid: number | undefined; stop: () => void }> {
  const child = fork(path.join(import.meta.dirname, '..', 'floor-server.js'), [dbUrl, JSON.stringify(FLOOR_SQL), '5'], {
    stdio: 'ignore',
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the floor server exited ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => child.kill('SIGTERM') };
}

export const crudScenario: Scenario = {
  name: 'crud',
  description:
    'booking catalogue: browse a city (50 %), own bookings with the listing embedded (30 %), book (20 %), as signed-in users under RLS',
  users: 'catalogue users',
  schema: SCHEMA,
  serverEnv: {},
  signsTokens: true,
  thinkMs: 1000,
  async prepare(target: Target): Promise<PreparedScenario> {
    signingSecret(target);
    await seed(target);
    const run = Math.floor(Math.random() * 0xffffffff);
    const floor = target.dbUrl ? await startFloor(target.dbUrl) : undefined;
    return {
      shared: { run, floorUrl: floor?.url },
      hasFloor: floor !== undefined,
      hasPeer: false,
      floorPid: floor?.pid,
      floorDescription:
        'node:http + pg, the same SQL in a transaction with the same SET LOCAL role and claims, pipelined as Trellis sends it',
      close: async () => floor?.stop(),
    };
  },
  async clients(target: ClientTarget, shared: SharedSetup): Promise<ScenarioClients> {
    const secret = signingSecret(target);
    const run = sharedField(shared, 'run', isNumber);
    const floorUrl = sharedField(shared, 'floorUrl', isOptionalString);
    const floor = floorUrl === undefined ? undefined : { url: floorUrl };
    const pick = (n: number) => Math.floor(Math.random() * n);

    const user = async (index: number): Promise<VirtualUser> => {
      const { token } = await accessToken(secret, syntheticUserId(run, index));
      const headers = { apikey: target.anonKey, authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const rest = `${urlFor(target, index)}/rest/v1`;
      return {
        async turn(recorder) {
          const r = Math.random();
          if (r < 0.5) {
            await recorder.time('browse listings', async () =>
              ok(
                await fetch(
                  `${rest}/bench_listings?select=id,title,price_cents&city=eq.city-${pick(CITIES)}&order=price_cents.asc&limit=20`,
                  { headers },
                ),
              ),
            );
          } else if (r < 0.8) {
            await recorder.time('own bookings', async () =>
              ok(
                await fetch(
                  `${rest}/bench_bookings?select=id,nights,bench_listings(title)&order=created_at.desc&limit=10`,
                  { headers },
                ),
              ),
            );
          } else {
            const body = JSON.stringify({ listing_id: 1 + pick(LISTINGS), nights: 1 + pick(14) });
            await recorder.time('book', async () =>
              ok(
                await fetch(`${rest}/bench_bookings`, {
                  method: 'POST',
                  headers: { ...headers, prefer: 'return=minimal' },
                  body,
                }),
              ),
            );
          }
        },
      };
    };

    const floorUser = floor
      ? async (index: number): Promise<VirtualUser> => {
          const { claims } = await accessToken(secret, syntheticUserId(run, index));
          const call = async (name: keyof typeof FLOOR_SQL, values: unknown[]) =>
            ok(
              await fetch(`${floor.url}/${name}`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ claims, values }),
              }),
            );
          return {
            async turn(recorder) {
              const r = Math.random();
              if (r < 0.5) await recorder.time('browse listings', () => call('browse', [`city-${pick(CITIES)}`]));
              else if (r < 0.8) await recorder.time('own bookings', () => call('bookings', []));
              else await recorder.time('book', () => call('book', [1 + pick(LISTINGS), 1 + pick(14)]));
            },
          };
        }
      : undefined;

    return { user, floorUser, close: async () => undefined };
  },
};
