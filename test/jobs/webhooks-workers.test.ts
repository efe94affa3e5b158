/**
 * `trellis start --workers 2` on a DATABASE_URL server: both workers run a sender, each webhook
 * reaches the receiver once, and every one verifies with the secret the primary kept in
 * .trellis/secrets.json before forking (the workers sign with the same key).
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startCli, tempProject, type RunningCli } from '../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { startReceiver, type Receiver } from './webhooks-receiver.js';

let receiver: Receiver;
let database: TestDatabase;
let dir: string;
let cli: RunningCli;

beforeAll(async () => {
  receiver = await startReceiver();
  database = await freshDatabase();
  dir = await tempProject({
    '20260101000000_items.sql': `
      create table public.items (id int primary key);
      alter table public.items enable row level security;
      create policy "anyone may add" on public.items for insert to anon with check (true);
      create trigger items_hook after insert on public.items for each row
        execute function supabase_functions.http_request('${receiver.url}/items', 'POST', '{}', '{}', '2000');`,
  });
  cli = await startCli(dir, { TRELLIS_WORKERS: '2', DATABASE_URL: database.url, LOG_LEVEL: 'warn' });
});

afterAll(async () => {
  const stopped = await cli?.stop();
  expect(stopped?.code).toBe(0);
  await receiver?.close();
  await database?.drop();
  await fs.rm(dir, { recursive: true, force: true });
});

test('two workers deliver each webhook once, signed with the data folder’s secret', async () => {
  const secrets = JSON.parse(await fs.readFile(path.join(dir, '.trellis', 'secrets.json'), 'utf8')) as {
    webhookSecret: string;
  };
  const anon = /anon key:\s*(\S+)/.exec(cli.output())?.[1] ?? '';
  for (let batch = 0; batch < 4; batch++) {
    const response = await fetch(`${cli.url}/rest/v1/items`, {
      method: 'POST',
      // A connection each, so that the cluster hands the inserts to both workers.
      headers: {
        apikey: anon,
        authorization: `Bearer ${anon}`,
        'content-type': 'application/json',
        connection: 'close',
      },
      body: JSON.stringify(Array.from({ length: 10 }, (_, i) => ({ id: batch * 10 + i }))),
    });
    expect(response.status).toBe(201);
  }
  const until = Date.now() + 15_000;
  while (receiver.received.length < 40 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500));
  const ids = receiver.received.map((r) => (JSON.parse(r.body.toString()) as { record: { id: number } }).record.id);
  expect(ids.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
  const key = Buffer.from(secrets.webhookSecret.replace(/^whsec_/, ''), 'base64');
  for (const { headers, body } of receiver.received) {
    const mac = crypto
      .createHmac('sha256', key)
      .update(`${String(headers['webhook-id'])}.${String(headers['webhook-timestamp'])}.`)
      .update(body)
      .digest('base64');
    expect(headers['webhook-signature']).toBe(`v1,${mac}`);
  }
});
