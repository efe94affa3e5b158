/**
 * A TCP proxy on loopback that a test can cut and restore, to take a real service (Redis) away
 * from a server and give it back, without stopping the service other tests share.
 */
import net from 'node:net';
import { freePort } from './cli.js';

export interface TcpProxy {
  readonly port: number;
  /** Refuses new connections and cuts the open ones. */
  cut(): Promise<void>;
  /** Accepts connections again, on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function tcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const port = await freePort();
  const open = new Set<net.Socket>();
  let server: net.Server | undefined;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = net.createServer((client) => {
        const upstream = net.connect(targetPort, targetHost);
        for (const s of [client, upstream]) {
          open.add(s);
          s.on('error', () => undefined);
          s.on('close', () => open.delete(s));
        }
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', resolve);
    });
  const cut = async () => {
    const s = server;
    server = undefined;
    for (const socket of open) socket.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return { port, cut, restore: listen, close: cut };
}
