/**
 * The floor (and the Socket.IO peer) of the chat scenario: the same rooms and the same database
 * work with the thinnest code — node:http and pg (the same SQL under the same SET LOCAL role and
 * claims, pipelined as Trellis sends it), and for the live part raw `ws` (floor) or Socket.IO
 * (peer) rooms: typing events relayed to the room, each posted message sent to the room's sockets
 * by the server that stored it (no WAL, no per-receiver RLS check: what a hand-written chat
 * server does). Run as a child process:
 *
 *   node dist/capacity/chat-floor-server.js <database url> <ws|socket.io>
 *
 * HTTP: `POST /history` and `POST /post` with `{"claims": {...}, "values": [...]}`. Live: a
 * socket per user joined to `?room=R`; it sends `{"typing": {...}}` and receives
 * `{"typing": {...}}` and `{"message": {...}}`. It sends its port over IPC.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { WebSocketServer, type WebSocket } from 'ws';
import { asUserPipelined } from './floor-server.js';

const SQL = {
  history: `select coalesce(json_agg(t), '[]')::text as body from (select id, body, author_id, created_at from public.bench_chat_messages where room_id = $1 order by id desc limit 50) t`,
  post: `insert into public.bench_chat_messages (room_id, body) values ($1, $2) returning json_build_object('id', id, 'room_id', room_id, 'body', body, 'author_id', author_id)::text as body`,
};

type Publish = (room: string, text: string) => void;

async function asUser(
  pool: pg.Pool,
  name: keyof typeof SQL,
  claims: { role: string },
  values: unknown[],
): Promise<string> {
  const result = await asUserPipelined(pool, name, SQL[name], claims, values);
  return String((result.rows[0] as { body?: string } | undefined)?.body ?? '');
}

function rawWsRooms(server: http.Server): Publish {
  const rooms = new Map<string, Set<WebSocket>>();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws, req) => {
    const room = new URL(req.url ?? '/', 'http://x').searchParams.get('room') ?? '';
    const members = rooms.get(room) ?? new Set<WebSocket>();
    rooms.set(room, members.add(ws));
    ws.on('message', (data: Buffer) => {
      for (const other of members) if (other !== ws) other.send(data.toString('utf8'));
    });
    ws.on('close', () => members.delete(ws));
  });
  return (room, text) => {
    for (const ws of rooms.get(room) ?? []) ws.send(text);
  };
}

async function socketIoRooms(server: http.Server): Promise<Publish> {
  const { Server } = await import('socket.io');
  const io = new Server(server, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
  io.on('connection', (socket) => {
    const room = String(socket.handshake.query.room ?? '');
    void socket.join(room);
    socket.on('typing', (payload: unknown) => socket.to(room).emit('typing', payload));
  });
  return (room, text) => void io.to(room).emit('message', JSON.parse(text) as unknown);
}

export async function chatFloorServer(dbUrl: string, mode: 'ws' | 'socket.io'): Promise<http.Server> {
  const pool = new pg.Pool({ connectionString: dbUrl, max: 5, pipeline: true });
  let publish: Publish = () => undefined;
  const answer = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    try {
      const { claims, values } = JSON.parse(raw) as { claims: { role: string }; values: unknown[] };
      if (req.url === '/history') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(await asUser(pool, 'history', claims, values));
      } else if (req.url === '/post') {
        const row = await asUser(pool, 'post', claims, values);
        publish(String(values[0]), mode === 'ws' ? `{"message":${row}}` : row);
        res.writeHead(201).end();
      } else {
        res.writeHead(404).end();
      }
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  };
  // What escapes answer() (the request stream failing, a 500 after the head went out) drops the connection.
  const server = http.createServer((req, res) => void answer(req, res).catch(() => res.destroy()));
  publish = mode === 'ws' ? rawWsRooms(server) : await socketIoRooms(server);
  server.on('close', () => void pool.end());
  return server;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const [dbUrl = '', mode = 'ws'] = process.argv.slice(2);
  const server = await chatFloorServer(dbUrl, mode === 'socket.io' ? 'socket.io' : 'ws');
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  process.on('SIGTERM', () => process.exit(0));
}
