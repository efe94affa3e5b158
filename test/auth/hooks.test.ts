/** The hook runner with an HTTP target: the send_sms hook's payload, and a hook's own refusal. */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Config } from '../../src/config.js';
import { hookTarget, type HookTarget } from '../../src/config/hooks.js';
import type { Db } from '../../src/db/index.js';
import { sendSmsHook } from '../../src/auth/hooks-calls.js';
import { createHooks } from '../../src/auth/hooks.js';
import { createLogger } from '../../src/platform/logger.js';

const SECRET = `v1,whsec_${crypto.randomBytes(32).toString('base64')}`;
let answer: (res: http.ServerResponse) => void = (res) => res.writeHead(204).end();
let last: { headers: http.IncomingHttpHeaders; body: Record<string, any> } | undefined;
const endpoint = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    last = { headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, any> };
    answer(res);
  });
});
let hooks: ReturnType<typeof createHooks>;

beforeAll(async () => {
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  const target = hookTarget(true, `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/sms`, SECRET);
  const config = {
    auth: { hooks: { targets: { sendSms: target as HookTarget }, httpTimeoutMs: 1000, pgTimeoutMs: 100 } },
  } as unknown as Config;
  // An HTTP hook never touches the database.
  hooks = createHooks({ db: {} as Db, config, log: createLogger({ level: 'silent', pretty: false }) });
});
afterAll(() => new Promise((resolve) => endpoint.close(resolve)));

describe('send_sms', () => {
  test('posts {metadata, user, sms} signed, and needs no answer but 204', async () => {
    const user = { id: 'u1', phone: '15550001111' };
    await sendSmsHook({ hooks, db: {} as Db }, user, { otp: '123456', sms_type: 'otp', phone: '15550001111' });
    expect(last?.body).toMatchObject({
      metadata: { name: 'send-sms' },
      user,
      sms: { otp: '123456', sms_type: 'otp', phone: '15550001111' },
    });
    expect(String(last?.headers['webhook-signature'])).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(hooks.enabled('sendSms')).toBe(true);
    expect(hooks.enabled('sendEmail')).toBe(false);
  });

  test("a hook's {error} is its answer to the request; an empty message is no error", async () => {
    answer = (res) =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { http_code: 422, message: 'Number blocked' } }));
    await expect(sendSmsHook({ hooks, db: {} as Db }, {}, { otp: '1' })).rejects.toMatchObject({
      status: 422,
      code: 'unknown',
      message: 'Number blocked',
    });
    answer = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"error": {"message": ""}}');
    await expect(sendSmsHook({ hooks, db: {} as Db }, {}, { otp: '1' })).resolves.toBeUndefined();
    answer = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('[1, 2]');
    await expect(sendSmsHook({ hooks, db: {} as Db }, {}, { otp: '1' })).rejects.toMatchObject({
      status: 500,
      message: 'Error unmarshaling JSON output.',
    });
  });
});
