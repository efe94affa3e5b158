/**
 * The floor (and the Socket.IO peer) of the chat scenario: the same rooms and the same database
 * work as Trellis with the thinnest code — node:http and pg (the same SQL under the same SET LOCAL
 * role and claims, pipelined as Trellis sends it), and for the live part raw `ws` (floor) or
 * Socket.IO (peer) rooms. Typing events are relayed to the room. A posted message is inserted under
 * the author's claims (RLS's with check), then, as Trellis authorises a change for each subscriber,
 * one statement checks every receiver connected to the room for membership, and the row goes to
 * those that are members. No WAL: the server that stored the row sends it. Run as a child process:
 *
 *   node dist/capacity/chat-floor-server.js <database url> <ws|socket.io>
 *
 * HTTP: `POST /history` and `POST /post` with `{"claims": {...}, "values": [...]}`. Live: a
 * socket per user joined to `?room=R&uid=U`; it sends `{"typing": {...}}` and receives
 * `{"typing": {...}}` and `{"message": {...}}`. It sends its port over IPC.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { WebSocketServer } from 'ws';
import { asUserPipelined } from './floor-server.js';

export const CHAT_FLOOR_SQL = {
  history: `select coalesce(json_agg(t), '[]')::text as body from (select id, body, author_id, created_at from public.bench_chat_messages where room_id = $1 order by id desc limit 50) t`,
  post: `insert into public.bench_chat_messages (room_id, body) values ($1, $2) returning json_build_object('id', id, 'room_id', room_id, 'body', body, 'author_id', author_id)::text as body`,
  /** Which of the receivers may read the room: the membership the read policy checks, per receiver. */
  members: `select coalesce(array_agg(r.uid::text), '{}') as uids from unnest($2::uuid[]) as r(uid) where exists (select 1 from public.bench_chat_members m where m.room_id = $1 and m.user_id = r.uid)`,
};

/** A connected socket: who it is and how to send it a message row (JSON text). */
interface Receiver {
  readonly uid: string;
  send(row: string): void;
  /** Raw ws only: a frame relayed as it came (typing). */
  relay?(text: string): void;
}

/** Room name → its connected receivers. */
type Rooms = Map<string, Set<Receiver>>;

function enter(rooms: Rooms, room: string, receiver: Receiver): () => void {
  const members = rooms.get(room) ?? new Set<Receiver>();
  rooms.set(room, members.add(receiver));
  return () => members.delete(receiver);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function rawWsRooms(server: http.Server, rooms: Rooms): void {
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws, req) => {
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    const uid = query.get('uid') ?? '';
    if (!UUID.test(uid)) return ws.close(1008, 'uid must be a uuid');
    const room = query.get('room') ?? '';
    const receiver: Receiver = { uid, send: (row) => ws.send(`{"message":${row}}`), relay: (text) => ws.send(text) };
    const leave = enter(rooms, room, receiver);
    // Typing frames go to the room's other sockets as they came.
    ws.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      for (const other of rooms.get(room) ?? []) if (other !== receiver) other.relay?.(text);
    });
    ws.on('close', leave);
  });
}

async function socketIoRooms(server: http.Server, rooms: Rooms): Promise<void> {
  const { Server } = await import('socket.io');
  const io = new Server(server, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
  io.on('connection', (socket) => {
    const uid = String(socket.handshake.query.uid ?? '');
    if (!UUID.test(uid)) return void socket.disconnect(true);
    const room = String(socket.handshake.query.room ?? '');
    void socket.join(room);
    const leave = enter(rooms, room, { uid, send: (row) => socket.emit('message', JSON.parse(row) as unknown) });
    socket.on('typing', (payload: unknown) => socket.to(room).emit('typing', payload));
    socket.on('disconnect', leave);
  });
}

export async function chatFloorServer(dbUrl: string, mode: 'ws' | 'socket.io'): Promise<http.Server> {
  const pool = new pg.Pool({ connectionString: dbUrl, max: 5, pipeline: true });
  const rooms: Rooms = new Map();
  /** After the insert: the room's receivers checked for membership in one statement, the row to those that pass. */
  const deliver = async (room: string, row: string): Promise<void> => {
    const receivers = [...(rooms.get(room) ?? [])];
    if (receivers.length === 0) return;
    const { rows } = await pool.query<{ uids: string[] }>({
      name: 'members',
      text: CHAT_FLOOR_SQL.members,
      values: [room, receivers.map((r) => r.uid)],
    });
    const allowed = new Set(rows[0]?.uids ?? []);
    for (const r of receivers) if (allowed.has(r.uid)) r.send(row);
  };
  const answer = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const name = req.url === '/history' ? 'history' : req.url === '/post' ? 'post' : undefined;
    if (!name || req.method !== 'POST') return void res.writeHead(404).end();
    let raw = '';
    for await (const chunk of req) raw += chunk;
    let request: { claims: { role: string }; values: unknown[] };
    try {
      request = JSON.parse(raw) as typeof request;
    } catch {
      return void res.writeHead(400).end('malformed JSON');
    }
    try {
      const { claims, values } = request;
      const result = await asUserPipelined(pool, name, CHAT_FLOOR_SQL[name], claims, values);
      const body = String((result.rows[0] as { body?: string } | undefined)?.body ?? '');
      if (name === 'history') return void res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      res.writeHead(201).end();
      // As Trellis answers the insert before its change is delivered.
      void deliver(String(values[0]), body).catch(() => undefined);
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  };
  // What escapes answer() (the request stream failing, a 500 after the head went out) drops the connection.
  const server = http.createServer((req, res) => void answer(req, res).catch(() => res.destroy()));
  if (mode === 'ws') rawWsRooms(server, rooms);
  else await socketIoRooms(server, rooms);
  server.on('close', () => void pool.end());
  return server;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const [dbUrl = '', mode = 'ws'] = process.argv.slice(2);
  const server = await chatFloorServer(dbUrl, mode === 'socket.io' ? 'socket.io' : 'ws');
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  process.on('SIGTERM', () => process.exit(0));
  // The harness gone: so is its floor.
  process.on('disconnect', () => process.exit(0));
}
