/**
 * The floor a scenario is compared against: the thinnest HTTP handler that does the same database
 * work as Trellis — node:http and pg, each statement in a transaction with the same SET LOCAL role
 * and claims, sent as Trellis sends them (BEGIN, claims, statement, COMMIT pipelined in one write)
 * — and nothing else (no router, no parser, no planner, no JWT). Run as a child process:
 *
 *   node dist/capacity/floor-server.js <database url> <statements json> [pool size]
 *
 * `POST /<name>` with `{"claims": {...}, "values": [...]}` runs statement <name>; the first column
 * of its first row is the body. `POST /sequential/<name>` runs it with pg used plainly instead (four
 * round trips: the floor bench/rest.ts also reports, beside this pipelined one). It prints its port
 * on stdout (or sends it over IPC).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';

export type FloorStatements = Record<string, string>;

const SET_CLAIMS = "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)";

/**
 * One statement as `claims`, sent as Trellis sends it: BEGIN, the claims, the statement and COMMIT
 * in one write (pg's pipeline mode, the socket corked). A failed statement's COMMIT rolls back;
 * every answer is awaited before the connection goes back.
 */
export async function asUserPipelined(
  pool: pg.Pool,
  name: string,
  text: string,
  claims: { role: string },
  values: unknown[],
): Promise<pg.QueryResult> {
  const client = await pool.connect();
  const socket = (client as unknown as { connection: { stream: { cork(): void; uncork(): void } } }).connection.stream;
  socket.cork();
  const sent = Promise.allSettled([
    client.query('begin'),
    client.query({ name: 'claims', text: SET_CLAIMS, values: [claims.role, JSON.stringify(claims)] }),
    client.query({ name, text, values }),
    client.query('commit'),
  ]);
  socket.uncork();
  const settled = await sent;
  client.release(client.getTransactionStatus() !== 'I');
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return (settled[2] as PromiseFulfilledResult<pg.QueryResult>).value;
}

/** The same transaction with pg used plainly: each statement awaited before the next is sent. */
export async function asUserSequential(
  pool: pg.Pool,
  name: string,
  text: string,
  claims: { role: string },
  values: unknown[],
): Promise<pg.QueryResult> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query({ name: 'claims', text: SET_CLAIMS, values: [claims.role, JSON.stringify(claims)] });
    const result = await client.query({ name, text, values });
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback');
    throw err;
  } finally {
    client.release();
  }
}

export function floorServer(dbUrl: string, statements: FloorStatements, poolMax: number): http.Server {
  const pool = new pg.Pool({ connectionString: dbUrl, max: poolMax, pipeline: true });
  // Opened on first use only: the capacity floors never send a sequential request.
  let sequentialPool: pg.Pool | undefined;
  const answer = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const sequential = (req.url ?? '').startsWith('/sequential/');
    const name = (req.url ?? '').slice(sequential ? '/sequential/'.length : 1);
    const text = statements[name];
    if (!text || req.method !== 'POST') return void res.writeHead(404).end();
    let raw = '';
    for await (const chunk of req) raw += chunk;
    try {
      const { claims, values } = JSON.parse(raw) as { claims: { role: string }; values: unknown[] };
      const result = sequential
        ? await asUserSequential(
            (sequentialPool ??= new pg.Pool({ connectionString: dbUrl, max: poolMax })),
            name,
            text,
            claims,
            values,
          )
        : await asUserPipelined(pool, name, text, claims, values);
      // The statements select their body as text (json_agg(...)::text).
      const first = result.rows[0] as Record<string, string | null> | undefined;
      const body = first ? Object.values(first)[0] : undefined;
      res
        .writeHead(body === undefined ? 204 : 200, { 'content-type': 'application/json' })
        .end(body === undefined ? undefined : String(body));
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  };
  // What escapes answer() (the request stream failing, a 500 after the head went out) drops the connection.
  const server = http.createServer((req, res) => void answer(req, res).catch(() => res.destroy()));
  server.on('close', () => {
    void pool.end();
    void sequentialPool?.end();
  });
  return server;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const [dbUrl, statements, poolMax] = process.argv.slice(2);
  const server = floorServer(dbUrl ?? '', JSON.parse(statements ?? '{}') as FloorStatements, Number(poolMax ?? 5));
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    if (process.send) process.send({ port });
    else process.stdout.write(`${port}\n`);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
