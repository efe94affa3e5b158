/** Small helpers over node:net shared by the embedded database, the capacity harness, benchmarks and tests. */
import net from 'node:net';

/**
 * A loopback port nobody listens on right now. The OS picks it (listen on port 0) and the
 * listener closes before returning, so another process may take it in between: callers that
 * start a server on it should be ready to retry or fail clearly.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
