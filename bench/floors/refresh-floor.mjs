// The floor for refresh-token grants: the thinnest HTTP server that does a grant's work. node:http,
// the JSON body, the token's SHA-256, a new token sealed with AES-256-GCM, the whole rotation in one
// prepared `pg` statement (one round trip), an HS256 access token signed with node:crypto's HMAC,
// and the answer as JSON with the user the statement read. Nothing else: no router, no validation,
// no limits, no metrics, no hooks, no error shapes. Run by bench/auth.ts as a child process:
//
//   node bench/floors/refresh-floor.mjs <database url> <HS256 secret, base64url>
//
// It prints its port on stdout.
import crypto from 'node:crypto';
import http from 'node:http';
import pg from 'pg';
import { ROTATION } from './refresh-rotation.mjs';

const [url, secretText] = process.argv.slice(2);
const secret = Buffer.from(secretText, 'base64url');
const sealKey = crypto.randomBytes(32);

const pool = new pg.Pool({ connectionString: url, max: 8 });
const sha = (t) => crypto.createHash('sha256').update(t).digest('hex');
const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const HEADER = b64({ alg: 'HS256', typ: 'JWT' });
const seal = (t) => {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', sealKey, iv);
  const body = Buffer.concat([cipher.update(t, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
};
const sign = (claims) => {
  const input = `${HEADER}.${b64(claims)}`;
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
};

async function grant(body) {
  const presented = JSON.parse(body).refresh_token;
  const next = crypto.randomBytes(32).toString('base64url');
  const { rows } = await pool.query({
    name: 'rotation',
    text: ROTATION,
    values: [sha(presented), sha(next), seal(next)],
  });
  const user = rows[0];
  if (!user) return undefined;
  const now = Math.floor(Date.now() / 1000);
  const accessToken = sign({
    aud: 'authenticated',
    exp: now + 3600,
    iat: now,
    sub: user.id,
    email: user.email,
    role: 'authenticated',
    session_id: user.session_id,
    amr: user.amr,
  });
  return {
    access_token: accessToken,
    token_type: 'bearer',
    expires_in: 3600,
    expires_at: now + 3600,
    refresh_token: next,
    user,
  };
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    grant(Buffer.concat(chunks).toString('utf8')).then(
      (answer) => {
        res.writeHead(answer ? 200 : 400, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer ?? { error: 'invalid_grant' }));
      },
      (err) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: String(err) }));
      },
    );
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
