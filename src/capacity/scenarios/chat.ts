/**
 * `chat`: the messenger of our users' plans. Users sit ten to a room on a realtime channel (live
 * messages by postgres_changes under RLS, typing by broadcast, presence). Each turn a user reads
 * the room's history (60 %), types (25 %) or posts a message (15 %). Besides each operation's own
 * time, every receiver records how long a message and a typing event took to reach it.
 * The floor and the Socket.IO peer do the same rooms and database work with the thinnest code
 * (src/capacity/chat-floor-server.ts).
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import WebSocket from 'ws';
import { FatalError } from '../../errors.js';
import { PhoenixSocket } from '../phoenix.js';
import type { VirtualUser } from '../runner.js';
import type { LatencyRecorder } from '../stats.js';
import type { Target } from '../target.js';
import { accessToken, signingSecret, syntheticUserId } from '../tokens.js';
import { urlFor } from '../target.js';
import {
  isNumber,
  isNumbers,
  isOptionalString,
  sharedField,
  type ClientTarget,
  type PreparedScenario,
  type Scenario,
  type ScenarioClients,
  type SharedSetup,
} from './scenario.js';

const USERS_PER_ROOM = 10;
const ROOMS = 1000;

/**
 * Not the chat app's schema (examples/chat, the tests' and bench/rest.ts's chat fixture), on
 * purpose: the virtual users are synthetic (tokens signed here for ids that have no auth.users row
 * or profile, so that stepping to thousands of users costs no sign-ups), which the app's foreign
 * keys to profiles would refuse; and `--print-schema` is applied to a user's own project behind
 * --target, where prefixed tables and `if not exists` keep clear of their own rooms and messages.
 *
 * The message policies are written as Supabase's RLS performance guide advises: the user's rooms
 * as one `in (select …)` with `(select auth.uid())`, evaluated once per statement. The earlier form,
 * a `security definer` membership function called per row, cost 19 × more per history read (3.78
 * against 0.20 ms mean in pg_stat_statements, 50 rows a page) and 10 × more per subscriber's
 * postgres_changes check (0.158 against 0.016 ms): the function's `set search_path` keeps it from
 * being inlined and saves and restores a setting on every call.
 */
const SCHEMA = `-- trellis bench chat: rooms, members and messages under RLS (tables prefixed bench_chat_).
create table if not exists public.bench_chat_rooms (id bigint generated always as identity primary key, name text not null);
create table if not exists public.bench_chat_members (room_id bigint references public.bench_chat_rooms (id), user_id uuid not null default auth.uid(), primary key (room_id, user_id));
create table if not exists public.bench_chat_messages (
  id bigint generated always as identity primary key,
  room_id bigint not null references public.bench_chat_rooms (id),
  author_id uuid not null default auth.uid(),
  body text not null,
  created_at timestamptz not null default now()
);
create index if not exists bench_chat_messages_room on public.bench_chat_messages (room_id, id desc);
alter table public.bench_chat_rooms enable row level security;
alter table public.bench_chat_members enable row level security;
alter table public.bench_chat_messages enable row level security;
drop policy if exists "rooms are listed" on public.bench_chat_rooms;
create policy "rooms are listed" on public.bench_chat_rooms for select to authenticated using (true);
drop policy if exists "join as yourself" on public.bench_chat_members;
create policy "join as yourself" on public.bench_chat_members for insert to authenticated with check (user_id = auth.uid());
drop policy if exists "see your memberships" on public.bench_chat_members;
create policy "see your memberships" on public.bench_chat_members for select to authenticated using (user_id = auth.uid());
drop policy if exists "members read" on public.bench_chat_messages;
create policy "members read" on public.bench_chat_messages for select to authenticated using (room_id in (select m.room_id from public.bench_chat_members m where m.user_id = (select auth.uid())));
drop policy if exists "members post" on public.bench_chat_messages;
create policy "members post" on public.bench_chat_messages for insert to authenticated with check (author_id = (select auth.uid()) and room_id in (select m.room_id from public.bench_chat_members m where m.user_id = (select auth.uid())));
do $$ begin
  if not exists (select 1 from pg_publication_tables where pubname = 'supabase_realtime' and tablename = 'bench_chat_messages') then
    alter publication supabase_realtime add table public.bench_chat_messages;
  end if;
end $$;
`;

/**
 * The room of virtual user `index`: ten a room from `offset`. The floor's and the peer's users sit
 * in rooms of their own (from the middle and the last quarter), away from Trellis's: their
 * messages are rows of the same table, which Trellis's realtime decodes from the WAL, and in a
 * room where Trellis's users are still subscribed it would deliver them too, at the floor's
 * expense. The search's users stay clear of them up to 5,000 users.
 */
function roomOf(rooms: readonly number[], index: number, offset: number): number {
  return rooms[(Math.floor(index / USERS_PER_ROOM) + offset) % rooms.length] ?? rooms[0] ?? 0;
}

const ok = async (response: Response): Promise<void> => {
  if (!response.ok) throw new Error(`${response.status} ${(await response.text()).slice(0, 200)}`);
  await response.arrayBuffer();
};

const now = () => performance.timeOrigin + performance.now();

async function seed(target: ClientTarget): Promise<number[]> {
  const headers = {
    apikey: target.anonKey,
    authorization: `Bearer ${target.serviceRoleKey}`,
    'content-type': 'application/json',
  };
  const list = async () =>
    fetch(`${target.url}/rest/v1/bench_chat_rooms?select=id&order=id&limit=${ROOMS}`, { headers });
  let response = await list();
  if (response.status === 404)
    throw new FatalError(
      'the target has no bench_chat_rooms table: apply the schema `trellis bench chat --print-schema` prints as a migration first',
      '--target',
    );
  let rooms = (await response.json()) as { id: number }[];
  if (rooms.length < ROOMS) {
    const rows = Array.from({ length: ROOMS - rooms.length }, (_, i) => ({ name: `room ${rooms.length + i}` }));
    await ok(
      await fetch(`${target.url}/rest/v1/bench_chat_rooms`, {
        method: 'POST',
        headers: { ...headers, prefer: 'return=minimal' },
        body: JSON.stringify(rows),
      }),
    );
    response = await list();
    rooms = (await response.json()) as { id: number }[];
  }
  return rooms.map((r) => r.id);
}

export const chatScenario: Scenario = {
  name: 'chat',
  description: `a messenger: ${USERS_PER_ROOM} users a room on a realtime channel (postgres_changes, broadcast, presence); read history (60 %), type (25 %), post (15 %)`,
  users: 'chat users',
  schema: SCHEMA,
  serverEnv: {},
  received: ['message delivered', 'typing delivered'],
  signsTokens: true,
  thinkMs: 1000,
  async prepare(target: Target): Promise<PreparedScenario> {
    signingSecret(target);
    const rooms = await seed(target);
    const run = Math.floor(Math.random() * 0xffffffff);
    const servers = target.dbUrl
      ? await Promise.all([
          startChatFloor(target.dbUrl, 'ws'),
          startChatFloor(target.dbUrl, 'socket.io').catch(() => undefined),
        ])
      : [];
    const [floor, peer] = servers;
    return {
      shared: { run, rooms, floorUrl: floor?.url, peerUrl: peer?.url },
      hasFloor: floor !== undefined,
      hasPeer: peer !== undefined,
      floorPid: floor?.pid,
      peerPid: peer?.pid,
      floorDescription:
        "node:http + pg (the same SQL and claims, pipelined) and raw `ws` rooms: typing relayed; a message inserted under its author's claims, then every receiver in the room checked for membership in one statement and sent the row (no WAL)",
      peerDescription: 'the same with Socket.IO rooms (websocket transport)',
      close: async () => {
        floor?.stop();
        peer?.stop();
      },
    };
  },
  async clients(target: ClientTarget, shared: SharedSetup): Promise<ScenarioClients> {
    const secret = signingSecret(target);
    const rooms = sharedField(shared, 'rooms', isNumbers);
    const run = sharedField(shared, 'run', isNumber);
    const floorUrl = sharedField(shared, 'floorUrl', isOptionalString);
    const peerUrl = sharedField(shared, 'peerUrl', isOptionalString);
    const rest = `${target.url}/rest/v1`;

    const user = async (index: number): Promise<VirtualUser> => {
      const uid = syntheticUserId(run, index);
      const { token } = await accessToken(secret, uid);
      // Each user keeps to one instance, as a browser keeps to the one its socket reached.
      const base = urlFor(target, index);
      const rest = `${base}/rest/v1`;
      const headers = { apikey: target.anonKey, authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const room = roomOf(rooms, index, 0);
      await ok(
        await fetch(`${rest}/bench_chat_members`, {
          method: 'POST',
          headers: { ...headers, prefer: 'return=minimal' },
          body: JSON.stringify({ room_id: room }),
        }),
      );
      let recorder: LatencyRecorder | undefined;
      const socket = await PhoenixSocket.open(base, target.anonKey);
      const topic = `realtime:room:${room}`;
      await socket.join(
        topic,
        {
          config: {
            broadcast: { self: false, ack: false },
            presence: { key: uid, enabled: true },
            postgres_changes: [
              { event: 'INSERT', schema: 'public', table: 'bench_chat_messages', filter: `room_id=eq.${room}` },
            ],
            private: false,
          },
          access_token: token,
        },
        (event, payload) => {
          if (!recorder) return;
          if (event === 'broadcast' && payload.event === 'typing') {
            const sentAt = Number((payload.payload as { sentAt?: number } | undefined)?.sentAt);
            if (Number.isFinite(sentAt)) recorder.record('typing delivered', now() - sentAt);
          } else if (event === 'postgres_changes') {
            const record = (payload.data as { record?: { body?: string; author_id?: string } } | undefined)?.record;
            const sentAt = Number(record?.body?.split(' ')[1]);
            if (record?.author_id !== uid && Number.isFinite(sentAt))
              recorder.record('message delivered', now() - sentAt);
          }
        },
      );
      await socket.push(topic, 'presence', {
        type: 'presence',
        event: 'track',
        payload: { online_at: new Date().toISOString() },
      });
      return {
        async turn(r) {
          recorder = r;
          const pick = Math.random();
          if (pick < 0.6) {
            await r.time('read history', async () =>
              ok(
                await fetch(
                  `${rest}/bench_chat_messages?select=id,body,author_id,created_at&room_id=eq.${room}&order=id.desc&limit=50`,
                  { headers },
                ),
              ),
            );
          } else if (pick < 0.85) {
            await r.time('type', () =>
              socket.push(topic, 'broadcast', { type: 'broadcast', event: 'typing', payload: { sentAt: now() } }),
            );
          } else {
            await r.time('post message', async () =>
              ok(
                await fetch(`${rest}/bench_chat_messages`, {
                  method: 'POST',
                  headers: { ...headers, prefer: 'return=minimal' },
                  body: JSON.stringify({ room_id: room, body: `sent ${now()}` }),
                }),
              ),
            );
          }
        },
        close: async () => socket.close(),
      };
    };

    const join = async (uid: string, token: string, room: number) =>
      ok(
        await fetch(`${rest}/bench_chat_members`, {
          method: 'POST',
          headers: {
            apikey: target.anonKey,
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            prefer: 'return=minimal',
          },
          body: JSON.stringify({ room_id: room, user_id: uid }),
        }),
      );
    /** A user of the floor or the peer: the same turns, HTTP for the database, a room socket. */
    const baselineUser =
      (url: string, kind: 'ws' | 'socket.io', salt: number, offset: number) =>
      async (index: number): Promise<VirtualUser> => {
        const uid = syntheticUserId(run ^ salt, index);
        const { token, claims } = await accessToken(secret, uid);
        const room = roomOf(rooms, index, offset);
        await join(uid, token, room);
        let recorder: LatencyRecorder | undefined;
        const received = (
          kindOf: 'typing' | 'message',
          value: { sentAt?: number; body?: string; author_id?: string },
        ) => {
          if (!recorder) return;
          if (kindOf === 'typing' && Number.isFinite(Number(value.sentAt)))
            recorder.record('typing delivered', now() - Number(value.sentAt));
          const sentAt = Number(value.body?.split(' ')[1]);
          if (kindOf === 'message' && value.author_id !== uid && Number.isFinite(sentAt))
            recorder.record('message delivered', now() - sentAt);
        };
        const live = await connectLive(url, room, uid, kind, received);
        const call = async (what: 'history' | 'post', values: unknown[]) =>
          ok(
            await fetch(`${url}/${what}`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ claims, values }),
            }),
          );
        return {
          async turn(r) {
            recorder = r;
            const pick = Math.random();
            if (pick < 0.6) await r.time('read history', () => call('history', [room]));
            else if (pick < 0.85) await r.time('type', async () => live.typing({ sentAt: now() }));
            else await r.time('post message', () => call('post', [room, `sent ${now()}`]));
          },
          close: async () => live.close(),
        };
      };

    return {
      user,
      floorUser: floorUrl === undefined ? undefined : baselineUser(floorUrl, 'ws', 0x0f100f10, ROOMS / 2),
      peerUser: peerUrl === undefined ? undefined : baselineUser(peerUrl, 'socket.io', 0x50c7e710, (ROOMS * 3) / 4),
      close: async () => undefined,
    };
  },
};

interface ChatFloor {
  readonly url: string;
  readonly pid: number | undefined;
  stop(): void;
}

async function startChatFloor(dbUrl: string, mode: 'ws' | 'socket.io'): Promise<ChatFloor> {
  const child = fork(path.join(import.meta.dirname, '..', 'chat-floor-server.js'), [dbUrl, mode], { stdio: 'ignore' });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the ${mode} floor exited ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => child.kill('SIGTERM') };
}

interface Live {
  typing(payload: { sentAt: number }): void;
  close(): void;
}

type Received = (kind: 'typing' | 'message', value: { sentAt?: number; body?: string; author_id?: string }) => void;

/** A room socket on the floor (raw ws, JSON frames) or the peer (Socket.IO events). */
async function connectLive(
  url: string,
  room: number,
  uid: string,
  kind: 'ws' | 'socket.io',
  received: Received,
): Promise<Live> {
  if (kind === 'ws') {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/?room=${room}&uid=${uid}`, { perMessageDeflate: false });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString('utf8')) as {
        typing?: { sentAt: number };
        message?: { body: string; author_id: string };
      };
      if (frame.typing) received('typing', frame.typing);
      if (frame.message) received('message', frame.message);
    });
    return { typing: (payload) => ws.send(JSON.stringify({ typing: payload })), close: () => ws.close() };
  }
  // A development dependency: the peer runs where the repository's benchmarks run.
  const { io } = await import('socket.io-client');
  const socket = io(url, { transports: ['websocket'], query: { room: String(room), uid }, forceNew: true });
  await new Promise((resolve, reject) =>
    socket.once('connect', () => resolve(undefined)).once('connect_error', reject),
  );
  socket.on('typing', (p: { sentAt: number }) => received('typing', p));
  socket.on('message', (m: { body: string; author_id: string }) => received('message', m));
  return { typing: (payload) => void socket.emit('typing', payload), close: () => void socket.close() };
}
