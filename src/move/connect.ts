/** Connections a move holds for its whole run (one statement may take as long as a table does); `label` names the server, URL included. */
import pg from 'pg';
import { FatalError, errorMessage } from '../errors.js';
import { describeConnectError } from '../db/index.js';

export async function connectTo(url: string, label: string, extra: pg.ClientConfig = {}): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, ...extra });
  // A server that goes away mid-move errors the next query; the event alone must not crash the CLI.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('set statement_timeout = 0');
  } catch (err) {
    await client.end().catch(() => undefined);
    throw new FatalError(`cannot connect to the ${label}: ${oneLine(describeConnectError(err))}`);
  }
  return client;
}

export async function closeQuietly(client: pg.Client | undefined): Promise<void> {
  await client?.end().catch(() => undefined);
}

/** One line for a failure of a step, naming the step. */
export function stepFailed(step: string, err: unknown): FatalError {
  if (err instanceof FatalError) return err;
  return new FatalError(`${step} failed: ${oneLine(errorMessage(err))}`);
}

/** A server's message on one line (libpq's connection errors run over two): the CLI prints one. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
