/** What the rate-limit tests share: users with tokens, and supabase-js clients that keep their last response. */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { supabaseClient, type TestServer } from '../../helpers/server.js';

export const NOTES_MIGRATION = {
  '0001_notes.sql': `
    create table public.notes (id serial primary key, body text not null);
    alter table public.notes enable row level security;
    create policy "anyone reads" on public.notes for select using (true);
    grant select on public.notes to anon, authenticated, service_role;
    insert into public.notes (body) values ('one'), ('two');
  `,
};

/** A supabase-js client whose every response is kept, so its headers can be read. */
export interface WatchedClient {
  readonly client: SupabaseClient;
  /** The last response's headers. */
  last(): Headers;
}

export function watchedClient(
  server: TestServer,
  options: {
    token?: string;
    key?: string;
    headers?: Record<string, string>;
    /** realtime-js's WebSocket class (default: `ws`). */
    realtimeTransport?: new (url: string, protocols?: string | string[]) => WebSocket;
  } = {},
): WatchedClient {
  let last = new Headers();
  const watching: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    last = res.headers;
    return res;
  };
  const headers = { ...options.headers, ...(options.token && { authorization: `Bearer ${options.token}` }) };
  const client = createClient(server.url, options.key ?? server.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: { fetch: watching, headers },
    realtime: { transport: (options.realtimeTransport ?? WebSocket) as unknown as never },
  });
  return { client, last: () => last };
}

/** A confirmed user and its access token, made with the service_role key (admin calls are not limited). */
export async function signedInUser(server: TestServer, email: string): Promise<{ id: string; token: string }> {
  const admin = supabaseClient(server, server.serviceRoleKey);
  const created = await admin.auth.admin.createUser({ email, password: 'a password 123', email_confirm: true });
  if (created.error) throw created.error;
  const { data, error } = await supabaseClient(server).auth.signInWithPassword({ email, password: 'a password 123' });
  if (error || !data.session) throw error ?? new Error('no session');
  return { id: data.user.id, token: data.session.access_token };
}

/** `n` selects through the client, in turn; the statuses. */
export async function selectTimes(c: WatchedClient, n: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await c.client.from('notes').select('id')).status);
  return statuses;
}

/** A random address in 198.18.0.0/15 (benchmarking range), so runs sharing one Redis never share a budget. */
export function randomAddress(): string {
  const n = Math.floor(Math.random() * 2 ** 17);
  return `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}

export async function metricValue(server: TestServer, line: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`, { headers: { apikey: server.serviceRoleKey } })).text();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : 0;
}
