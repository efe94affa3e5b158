// The floor for bench/rest.ts: the thinnest HTTP handler that does the same work as Trellis for
// "latest 50 messages" and "insert one message": node:http, the same driver (pg, same pool size),
// the same SQL with the same SET LOCAL role and claims, the JSON body built by PostgreSQL, the
// statements prepared as Trellis prepares them.
// Under /pipelined/ the same four statements go in one write and one round trip (pg's pipeline
// mode and a corked socket), as Trellis sends them: the floor for its HTTP and planning overhead.
// Usage: node bench/floors/rest-floor.mjs <port> <database url> <claims json>
import http from 'node:http';
import pg from 'pg';

const [port, dbUrl, claims] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: dbUrl, max: 10 });
const pipelinedPool = new pg.Pool({ connectionString: dbUrl, max: 10, pipeline: true });
const CLAIMS = "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)";
const LATEST = `select coalesce(json_agg(m), '[]'::json)::text as body from (select id, body, author_id, created_at from public.messages where room_id = $1 order by id desc limit 50) m`;
const INSERT = `insert into public.messages (room_id, body) select room_id, body from json_populate_record(null::public.messages, $1::json)`;

// Named like Trellis names its statements, so the comparison is of the rest of the work.
async function asUser(name, text, values) {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query({ name: 'claims', text: CLAIMS, values: [claims] });
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

async function asUserPipelined(name, text, values) {
  const client = await pipelinedPool.connect();
  try {
    const socket = client.connection.stream;
    socket.cork();
    const sent = Promise.all([client.query('begin'), client.query({ name: 'claims', text: CLAIMS, values: [claims] }), client.query({ name, text, values }), client.query('commit')]);
    socket.uncork();
    return (await sent)[2];
  } finally {
    client.release();
  }
}

http
  .createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://x');
      const run = url.pathname.startsWith('/pipelined/') ? asUserPipelined : asUser;
      if (req.method === 'GET') {
        const result = await run('latest', LATEST, [url.searchParams.get('room')]);
        res.writeHead(200, { 'content-type': 'application/json' }).end(result.rows[0].body);
      } else {
        let body = '';
        for await (const chunk of req) body += chunk;
        await run('insert', INSERT, [body]);
        res.writeHead(201).end();
      }
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  })
  .listen(Number(port), '127.0.0.1', () => process.send?.('ready'));
