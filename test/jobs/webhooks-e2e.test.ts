/**
 * The done-when, through a started server: a Database Webhook made the Supabase way fires on
 * a row written with supabase-js, reaches a receiver on loopback that fails first, is retried, and
 * verifies with the snippet of docs/webhooks.md, under both secrets of a rotation.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../helpers/server.js';
import { startReceiver, type Receiver } from './webhooks-receiver.js';

type Verify = (secret: string, headers: Record<string, unknown>, body: Buffer) => boolean;

const SECRET = `whsec_${crypto.randomBytes(32).toString('base64')}`;
// A rotation under way: the new secret first, the old one still signing.
const OLD_SECRET = `whsec_${crypto.randomBytes(32).toString('base64')}`;
let receiver: Receiver;
let server: TestServer;
let verifyWebhook: Verify;

/** The receiver's check, as docs/webhooks.md gives it (between the verify-snippet markers). */
async function docsSnippet(): Promise<Verify> {
  const docs = await fs.readFile(new URL('../../docs/webhooks.md', import.meta.url), 'utf8');
  const block = /<!-- verify-snippet -->\s*```js\n([\s\S]*?)```/.exec(docs)?.[1];
  if (!block) throw new Error('docs/webhooks.md has no verify-snippet block');
  const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-verify-')), 'verify.mjs');
  await fs.writeFile(file, block);
  return ((await import(file)) as { verifyWebhook: Verify }).verifyWebhook;
}

beforeAll(async () => {
  verifyWebhook = await docsSnippet();
  receiver = await startReceiver();
  server = await startTestServer({
    env: { WEBHOOK_SECRET: `${SECRET} ${OLD_SECRET}`, WEBHOOK_RETRY_BACKOFF_MS: '100', NET_POLL_INTERVAL_MS: '500' },
    migrations: {
      '20260101000000_orders.sql': `
        create table public.orders (id bigint primary key, status text);
        alter table public.orders enable row level security;
        create policy "anyone may order" on public.orders for insert to anon with check (true);
        create trigger orders_webhook after insert or update or delete on public.orders for each row
          execute function supabase_functions.http_request('${receiver.url}/hooks/orders', 'POST',
            '{"Content-Type":"application/json"}', '{}', '1000');`,
    },
  });
});

afterAll(async () => {
  await server?.stop();
  await receiver?.close();
});

test('a webhook fired through the data API reaches the receiver, with a retry after a failure', async () => {
  let calls = 0;
  receiver.answer = (_r, res) => {
    calls += 1;
    if (calls === 1) res.writeHead(503, { 'retry-after': '0' }).end('starting');
    else res.writeHead(200, { 'content-type': 'text/plain' }).end('stored');
  };
  const { error } = await supabaseClient(server).from('orders').insert({ id: 1, status: 'new' });
  expect(error).toBeNull();
  const until = Date.now() + 10_000;
  while (receiver.received.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
  expect(receiver.received).toHaveLength(2);
  for (const delivery of receiver.received) {
    expect(delivery.url).toBe('/hooks/orders');
    expect(verifyWebhook(SECRET, delivery.headers, delivery.body)).toBe(true);
    expect(verifyWebhook(OLD_SECRET, delivery.headers, delivery.body)).toBe(true);
    expect(verifyWebhook(`whsec_${crypto.randomBytes(32).toString('base64')}`, delivery.headers, delivery.body)).toBe(
      false,
    );
    expect(verifyWebhook(SECRET, delivery.headers, Buffer.concat([delivery.body, Buffer.from(' ')]))).toBe(false);
  }
  expect(JSON.parse(receiver.received[1]?.body.toString() ?? '')).toEqual({
    type: 'INSERT',
    table: 'orders',
    schema: 'public',
    record: { id: 1, status: 'new' },
    old_record: null,
  });
  const { rows } = await server.sql.query<{ status_code: number; content: string }>(
    `select r.status_code, r.content from net._http_response r
       join supabase_functions.hooks h on h.request_id = r.id where h.hook_name = 'orders_webhook'`,
  );
  expect(rows).toEqual([{ status_code: 200, content: 'stored' }]);
});
