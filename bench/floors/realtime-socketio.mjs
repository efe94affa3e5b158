// The peer for realtime fan-out: Socket.IO doing the same rooms (websocket transport only).
// Not src/capacity/chat-floor-server.ts's Socket.IO mode: that one joins the room named in the
// handshake and relays chat typing/messages backed by the database; this one is pure fan-out of
// broadcasts, with an explicit join (acknowledged, as a Phoenix join is) to match bench/realtime.ts.
import http from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.argv[2]);
const server = http.createServer();
const io = new Server(server, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
io.on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    socket.join(room);
    ack?.('ok');
  });
  socket.on('broadcast', (room, payload) => socket.to(room).emit('broadcast', payload));
});
server.listen(port, '127.0.0.1', () => process.send?.('ready'));
