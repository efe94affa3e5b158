// The floor for realtime fan-out: raw `ws`, rooms in a Map, the same Phoenix 2.0.0 frames Trellis
// exchanges (join reply, broadcast to the others in the room), encoded once per message. Nothing
// else: no tokens, no limits, no presence, no bus.
// Not src/capacity/chat-floor-server.ts: that floor speaks its own small JSON frames and does the
// chat's database work; this one must speak Phoenix, so that one client (bench/realtime.ts's bare
// Phoenix sockets) drives Trellis and the floor alike and only the servers differ.
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2]);
const rooms = new Map();
const wss = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: false });
wss.on('connection', (ws) => {
  const joined = new Set();
  ws.on('message', (data) => {
    const [joinRef, ref, topic, event, payload] = JSON.parse(data.toString());
    if (event === 'phx_join') {
      let room = rooms.get(topic);
      if (!room) rooms.set(topic, (room = new Set()));
      room.add(ws);
      joined.add(topic);
      ws.send(JSON.stringify([joinRef, ref, topic, 'phx_reply', { status: 'ok', response: { postgres_changes: [] } }]));
    } else if (event === 'heartbeat') {
      ws.send(JSON.stringify([null, ref, topic, 'phx_reply', { status: 'ok', response: {} }]));
    } else if (event === 'broadcast') {
      const frame = Buffer.from(JSON.stringify([null, null, topic, 'broadcast', payload]));
      for (const other of rooms.get(topic) ?? []) if (other !== ws) other.send(frame, { binary: false });
    }
  });
  ws.on('close', () => {
    for (const topic of joined) rooms.get(topic)?.delete(ws);
  });
});
wss.on('listening', () => process.send?.('ready'));
