/**
 * A Web Push service on loopback, for tests: HTTPS with a throwaway self-signed certificate (its
 * PEM is `caFile`, for PUSH_CA_FILE), which checks each push's VAPID token (RFC 8292: `vapid
 * t=JWT, k=key`, ES256 signed by k, aud the service's origin), decrypts its aes128gcm body (RFC
 * 8291 over RFC 8188) with the test "browser's" private key, and records the plaintext. It answers
 * 201, or what a test asked it to answer next for an endpoint (410, 500, …).
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { importJWK, jwtVerify } from 'jose';

/** A test browser: the subscription it would hand to the app, and its private key. */
export interface PushBrowser {
  readonly id: string;
  readonly endpoint: string;
  /** PushSubscription.toJSON().keys: base64url, unpadded. */
  readonly p256dh: string;
  readonly auth: string;
  readonly ecdh: crypto.ECDH;
}

export interface ReceivedPush {
  readonly browser: string;
  readonly plaintext: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** performance.timeOrigin + performance.now() when the body was read. */
  readonly at: number;
}

export interface PushService {
  readonly origin: string;
  readonly caFile: string;
  browser(): PushBrowser;
  /** The next answers to pushes for this browser's endpoint, in order (then 201 again); 0: no answer at all. */
  answer(browser: PushBrowser, ...statuses: number[]): void;
  /** Pushes decrypted and answered 2xx, in arrival order. */
  readonly received: ReceivedPush[];
  /** Requests that failed a check, with why (a bad token, an undecryptable body). */
  readonly refused: string[];
  /** Every request's status, by browser id (retries included). */
  readonly answered: Map<string, number[]>;
  /** From now on, a push signed with another VAPID key (k) is refused with 403, as a real service does. */
  requireKey(publicKey: string): void;
  close(): Promise<void>;
}

const b64u = (bytes: Buffer): string => bytes.toString('base64url');

/** RFC 8291 §3.4 and RFC 8188 §2: one record, the browser's side. */
export function decryptAes128gcm(body: Buffer, browser: PushBrowser): string {
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20]!;
  const serverPublic = body.subarray(21, 21 + idlen);
  const record = body.subarray(21 + idlen);
  if (idlen !== 65) throw new Error(`keyid is ${idlen} bytes, not an uncompressed P-256 key`);
  if (record.length > rs) throw new Error(`a ${record.length}-byte record is over the record size ${rs}`);
  const shared = browser.ecdh.computeSecret(serverPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), browser.ecdh.getPublicKey(), serverPublic]);
  const ikm = Buffer.from(crypto.hkdfSync('sha256', shared, Buffer.from(browser.auth, 'base64url'), keyInfo, 32));
  const cek = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = crypto.createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  // The last record: the data, then 0x02, then zero or more 0x00 of padding.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('the last record has no 0x02 padding delimiter');
  return padded.subarray(0, end).toString('utf8');
}

/** RFC 8292 §3: `vapid t=<ES256 JWT>, k=<the signer's public key>`; the key, when valid. */
async function checkVapid(authorization: string | undefined, origin: string): Promise<string> {
  const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(authorization ?? '');
  if (!match) throw new Error(`Authorization is not "vapid t=…, k=…": ${authorization ?? '(none)'}`);
  const [, token, key] = match as unknown as [string, string, string];
  const raw = Buffer.from(key, 'base64url');
  if (raw.length !== 65 || raw[0] !== 4) throw new Error('k is not an uncompressed P-256 public key');
  const jwk = { kty: 'EC', crv: 'P-256', x: b64u(raw.subarray(1, 33)), y: b64u(raw.subarray(33)) };
  const { payload } = await jwtVerify(token, await importJWK(jwk, 'ES256'), { audience: origin });
  if (typeof payload.exp !== 'number' || payload.exp > Date.now() / 1000 + 24 * 3600)
    throw new Error('exp is missing or more than 24 hours ahead');
  if (typeof payload.sub !== 'string' || !/^(mailto:|https:)/.test(payload.sub))
    throw new Error('sub is not a mailto: or https: URL');
  return key;
}

function selfSignedCertificate(dir: string): { key: string; cert: string; caFile: string } {
  const keyFile = path.join(dir, 'key.pem');
  const caFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-keyout',
      keyFile,
      '-out',
      caFile,
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(caFile, 'utf8'), caFile };
}

export async function startPushService(): Promise<PushService> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-push-service-'));
  const { key, cert, caFile } = selfSignedCertificate(dir);
  const browsers = new Map<string, PushBrowser>();
  const scripted = new Map<string, number[]>();
  const received: ReceivedPush[] = [];
  const refused: string[] = [];
  const answered = new Map<string, number[]>();
  let origin = '';
  let requiredKey: string | undefined;

  const server = https.createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const id = /^\/push\/([\w-]+)$/.exec(req.url ?? '')?.[1] ?? '';
        const browser = browsers.get(id);
        const reply = (status: number, why?: string) => {
          if (why) refused.push(why);
          answered.set(id, [...(answered.get(id) ?? []), status]);
          res.writeHead(status).end();
        };
        if (req.method !== 'POST' || !browser) return reply(404, `no subscription at ${req.method} ${req.url}`);
        try {
          const signer = await checkVapid(req.headers.authorization, origin);
          if (requiredKey !== undefined && signer !== requiredKey)
            return reply(403, `signed with ${signer}, not the key the browser subscribed with`);
          if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error('Content-Encoding is not aes128gcm');
          if (req.headers.ttl === undefined) throw new Error('no TTL header');
          const plaintext = decryptAes128gcm(Buffer.concat(chunks), browser);
          const next = scripted.get(id)?.shift();
          // A push service that hangs: the request stays open until the sender gives up.
          if (next === 0) return void answered.set(id, [...(answered.get(id) ?? []), 0]);
          if (next !== undefined && (next < 200 || next > 299)) return reply(next);
          received.push({
            browser: id,
            plaintext,
            headers: { ...req.headers } as ReceivedPush['headers'],
            at: performance.timeOrigin + performance.now(),
          });
          reply(next ?? 201);
        } catch (err) {
          reply(400, err instanceof Error ? err.message : String(err));
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    origin,
    caFile,
    browser() {
      const ecdh = crypto.createECDH('prime256v1');
      ecdh.generateKeys();
      const id = crypto.randomBytes(9).toString('base64url');
      const made: PushBrowser = {
        id,
        endpoint: `${origin}/push/${id}`,
        p256dh: b64u(ecdh.getPublicKey()),
        auth: b64u(crypto.randomBytes(16)),
        ecdh,
      };
      browsers.set(id, made);
      return made;
    },
    answer(browser, ...statuses) {
      scripted.set(browser.id, [...(scripted.get(browser.id) ?? []), ...statuses]);
    },
    received,
    refused,
    answered,
    requireKey(publicKey) {
      requiredKey = publicKey;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
