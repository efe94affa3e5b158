/**
 * Ending the feed's own pg connections (the replication stream and the high-water mark's) in
 * bounded time. pg's `client.end()` is graceful when no query is active: it sends Terminate,
 * half-closes the socket and waits for the server to close its side. A frozen server (SIGSTOP, a
 * black-holed network) never does, and its kernel still answers TCP keepalive, so that wait has
 * no end of its own: past a grace period the socket is destroyed.
 */
import type pg from 'pg';

/** How long a graceful end may take before the socket is destroyed. */
export const END_GRACE_MS = 1000;

interface ClientSocket {
  readonly connection: { readonly stream: { destroy(): void } };
}

/** Ends `client`: gracefully when the server answers within `graceMs`, by destroying the socket otherwise. */
export async function endClient(client: pg.Client, graceMs = END_GRACE_MS): Promise<void> {
  const ended = client.end().catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
  const outcome = await Promise.race([ended.then(() => 'ended' as const), late]);
  clearTimeout(timer);
  if (outcome === 'late') await dropClient(client);
}

/** Destroys `client`'s socket at once (nothing more is sent) and waits for pg to notice. */
export async function dropClient(client: pg.Client): Promise<void> {
  (client as unknown as ClientSocket).connection.stream.destroy();
  // After destroy() the socket closes on the next tick and pg's end() resolves on that; a client
  // that never connected resolves at once.
  await client.end().catch(() => undefined);
}
