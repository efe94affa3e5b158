// Idle realtime clients for bench/realtime-idle.ts, in a process of their own (a process holds at
// most its file limit of sockets): COUNT sockets from LOCAL_ADDRESS (each process its own loopback
// address, so each has the whole ephemeral port range), each joined to one channel and sending
// Phoenix heartbeats every 25 s. Reports { opened, failed } over IPC when all are open, then holds
// them until told 'count' (answers { open }) or 'close'.
import WebSocket from 'ws';

const [url, apikey, countArg, localAddress, rooms] = process.argv.slice(2);
const COUNT = Number(countArg);
const IN_FLIGHT = 200;
const sockets = new Set();
let failed = 0;
let firstError;

function open(i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url}/realtime/v1/websocket?apikey=${apikey}&vsn=2.0.0`, {
      perMessageDeflate: false,
      localAddress,
      handshakeTimeout: 30_000,
    });
    const fail = (err) => {
      failed++;
      firstError ??= String(err?.message ?? err);
      ws.terminate();
      resolve();
    };
    ws.once('error', fail);
    ws.once('open', () =>
      ws.send(JSON.stringify(['1', '1', `realtime:idle-${i % Number(rooms)}`, 'phx_join', { config: {} }])),
    );
    ws.once('message', () => {
      ws.off('error', fail);
      ws.on('error', () => undefined);
      ws.on('close', () => sockets.delete(ws));
      sockets.add(ws);
      resolve();
    });
  });
}

// Heartbeats from the start: opening them all can take longer than the server's heartbeat timeout.
const heartbeat = setInterval(() => {
  for (const ws of sockets) ws.send('[null,"hb","phoenix","heartbeat",{}]');
}, 25_000);
let next = 0;
await Promise.all(
  Array.from({ length: IN_FLIGHT }, async () => {
    while (next < COUNT) await open(next++);
  }),
);
process.send({ opened: sockets.size, failed, firstError });
process.on('message', (m) => {
  if (m === 'count') process.send({ open: sockets.size });
  if (m === 'close') {
    clearInterval(heartbeat);
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  }
});
