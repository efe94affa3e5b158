/**
 * Web push against a started server and a push service on loopback (test/helpers/push-service.ts,
 * which checks the VAPID token and decrypts each push): users store their browser subscriptions
 * through supabase-js and see only their own, trellis.send_push reaches the browser, 410 deletes
 * the subscription, 500 is retried until delivered once, a chat message's trigger pushes to the
 * room's other members, and bad input is refused with a message naming it.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { waitForValue } from '../../helpers/realtime.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startPushService, type PushBrowser, type PushService } from '../../helpers/push-service.js';
import { CHAT_ROOMS_SQL } from '../../helpers/chat-rooms.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

// Seed 003's chat, reduced: rooms, members, messages; a new message pushes to the other members.
const CHAT = `${CHAT_ROOMS_SQL}
-- SECURITY DEFINER: it runs as the migration's owner, who may call trellis.send_push (users may not).
create function public.push_new_message() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform trellis.send_push(m.user_id,
                            jsonb_build_object('title', r.name, 'body', new.body, 'room', new.room_id, 'message', new.id),
                            ttl => 3600, urgency => 'high', topic => 'room' || new.room_id)
     from public.members m join public.rooms r on r.id = m.room_id
    where m.room_id = new.room_id and m.user_id <> new.sender;
  return new;
end $$;
create trigger push_new_message after insert on public.messages
  for each row execute function public.push_new_message();
`;

let push: PushService;
let server: TestServer;
const users: { client: SupabaseClient; id: string }[] = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pushesTo = (browser: PushBrowser) => push.received.filter((r) => r.browser === browser.id);
const subscription = (b: PushBrowser) => ({ endpoint: b.endpoint, p256dh: b.p256dh, auth: b.auth });

beforeAll(async () => {
  push = await startPushService();
  server = await startTestServer({
    migrations: { '20240101000000_chat.sql': CHAT },
    env: {
      METRICS_PUBLIC: 'true',
      PUSH_CA_FILE: push.caFile,
      PUSH_VAPID_SUBJECT: 'mailto:push-test@example.com',
      PUSH_TIMEOUT_MS: '1000',
    },
  });
  for (const name of ['ada', 'bob', 'cy']) {
    const client = supabaseClient(server);
    const { data, error } = await client.auth.signUp({ email: `${name}@example.com`, password: `${name} password 1` });
    if (error) throw error;
    users.push({ client, id: data.user!.id });
  }
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await push?.close();
});

describe('subscriptions through supabase-js', () => {
  test('a user stores a subscription and sees only their own; another cannot see or delete it', async () => {
    const [ada, bob] = users as [(typeof users)[0], (typeof users)[0]];
    const browser = push.browser();
    const stored = await ada.client.schema('trellis_push').from('subscriptions').insert(subscription(browser)).select();
    expect(stored.error).toBeNull();
    expect(stored.data).toEqual([expect.objectContaining({ endpoint: browser.endpoint, p256dh: browser.p256dh })]);

    const mine = await ada.client.schema('trellis_push').from('subscriptions').select('endpoint');
    expect(mine.data).toEqual([{ endpoint: browser.endpoint }]);
    const theirs = await bob.client.schema('trellis_push').from('subscriptions').select('endpoint');
    expect(theirs).toMatchObject({ error: null, data: [] });
    const removed = await bob.client
      .schema('trellis_push')
      .from('subscriptions')
      .delete()
      .eq('endpoint', browser.endpoint)
      .select();
    expect(removed).toMatchObject({ error: null, data: [] });
    const { rows } = await server.sql.query('select user_id from trellis.push_subscriptions where endpoint = $1', [
      browser.endpoint,
    ]);
    expect(rows).toEqual([{ user_id: ada.id }]);

    const own = await ada.client.schema('trellis_push').from('subscriptions').delete().eq('endpoint', browser.endpoint);
    expect(own.error).toBeNull();
    expect((await server.sql.query('select 1 from trellis.push_subscriptions')).rowCount).toBe(0);
  });

  test('anon cannot reach subscriptions, and schema trellis is not exposed', async () => {
    const anon = supabaseClient(server);
    const read = await anon.schema('trellis_push').from('subscriptions').select();
    expect(read.status).toBe(401);
    const internal = await users[0]!.client.schema('trellis').from('push_subscriptions').select();
    expect(internal.status).toBe(406);
    expect(internal.error?.code).toBe('PGRST106');
  });

  test.each([
    ['an http endpoint', { endpoint: 'http://127.0.0.1:9/push/x' }, /endpoint must be an https:\/\/ URL/],
    ['a p256dh that is not a P-256 point', { p256dh: 'not-a-key' }, /p256dh must be the browser's P-256 public key/],
    ['an auth secret of 8 bytes', { auth: 'AAAAAAAAAAA' }, /auth must be the subscription's 16-byte secret/],
  ])('%s is a 400 naming the field', async (_name, change, message) => {
    const bad = { ...subscription(push.browser()), ...change };
    const stored = await users[0]!.client.schema('trellis_push').from('subscriptions').insert(bad);
    expect(stored.status).toBe(400);
    expect(stored.error?.message).toMatch(message);
  });

  test('the VAPID public key is served for PushManager.subscribe, the same as the database keeps', async () => {
    const res = await fetch(`${server.url}/push/v1/vapid-public-key`);
    expect(res.status).toBe(200);
    const { publicKey } = (await res.json()) as { publicKey: string };
    expect(Buffer.from(publicKey, 'base64url')).toHaveLength(65);
    const { rows } = await server.sql.query('select public_key from trellis.push_vapid_keys');
    expect(rows).toEqual([{ public_key: publicKey }]);
    // Browsers subscribe with this key: the push service refuses pushes signed with any other.
    push.requireKey(publicKey);
  });
});

describe('delivery', () => {
  const subscribe = async (user: (typeof users)[0]) => {
    const browser = push.browser();
    const { error } = await user.client.schema('trellis_push').from('subscriptions').insert(subscription(browser));
    if (error) throw new Error(error.message);
    return browser;
  };

  test('send_push from SQL reaches the browser, decrypted, with its TTL, urgency and topic', async () => {
    const browser = await subscribe(users[0]!);
    const { rows } = await server.sql.query(
      `select trellis.send_push($1, '{"title": "hi", "n": 12345678901234567890}', ttl => 60, urgency => 'low', topic => 'greeting') as queued`,
      [users[0]!.id],
    );
    expect(rows).toEqual([{ queued: 1 }]);
    const [got] = await waitForValue('the push', () => (pushesTo(browser).length ? pushesTo(browser) : undefined));
    expect(got!.plaintext).toBe('{"n": 12345678901234567890, "title": "hi"}');
    expect(got!.headers).toMatchObject({ ttl: '60', urgency: 'low', topic: 'greeting' });
    expect(push.refused).toEqual([]);
  });

  test('a 410 deletes the subscription', async () => {
    const browser = await subscribe(users[1]!);
    push.answer(browser, 410);
    await server.sql.query(`select trellis.send_push($1, '{"gone": true}')`, [users[1]!.id]);
    await waitForValue('the subscription to go', async () =>
      (await server.sql.query('select 1 from trellis.push_subscriptions where endpoint = $1', [browser.endpoint]))
        .rowCount === 0
        ? true
        : undefined,
    );
    expect(push.answered.get(browser.id)).toEqual([410]);
    expect(pushesTo(browser)).toEqual([]);
  });

  test('a 500 is retried with backoff and the push delivered once', async () => {
    const browser = await subscribe(users[2]!);
    push.answer(browser, 500);
    await server.sql.query(`select trellis.send_push($1, '{"again": true}')`, [users[2]!.id]);
    await waitForValue('the retry', () => (pushesTo(browser).length ? true : undefined), 30_000);
    await sleep(500);
    expect(push.answered.get(browser.id)).toEqual([500, 201]);
    expect(pushesTo(browser).map((r) => r.plaintext)).toEqual(['{"again": true}']);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/trellis_push_sent_total\{outcome="retry"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/trellis_push_sent_total\{outcome="delivered"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/trellis_push_sent_total\{outcome="expired"[^}]*\} [1-9]/);
  }, 40_000);

  test('a push service that does not answer within PUSH_TIMEOUT_MS is given up on and retried', async () => {
    const browser = await subscribe(users[2]!);
    push.answer(browser, 0);
    await server.sql.query(`select trellis.send_push($1, '{"slow": true}')`, [users[2]!.id]);
    await waitForValue('the retry', () => (pushesTo(browser).length ? true : undefined), 30_000);
    expect(push.answered.get(browser.id)).toEqual([0, 201]);
    expect(pushesTo(browser).map((r) => r.plaintext)).toEqual(['{"slow": true}']);
  }, 40_000);

  test('another 4xx (413) is not retried, and the subscription stays', async () => {
    const browser = await subscribe(users[2]!);
    push.answer(browser, 413);
    await server.sql.query(`select trellis.send_push($1, '{"refused": true}')`, [users[2]!.id]);
    await waitForValue('the answer', () => (push.answered.get(browser.id)?.length ? true : undefined));
    await sleep(4000);
    expect(push.answered.get(browser.id)).toEqual([413]);
    const { rowCount } = await server.sql.query('select 1 from trellis.push_subscriptions where endpoint = $1', [
      browser.endpoint,
    ]);
    expect(rowCount).toBe(1);
  }, 20_000);

  test("a chat message's trigger pushes to the room's other members, not its sender", async () => {
    await server.sql.query('delete from trellis.push_subscriptions');
    const [ada, bob, cy] = users as [(typeof users)[0], (typeof users)[0], (typeof users)[0]];
    const browsers = { ada: await subscribe(ada), bob: await subscribe(bob), cy: await subscribe(cy) };
    const bobPhone = await subscribe(bob);
    const { rows } = await server.sql.query<{ id: string }>(
      `insert into public.rooms (name) values ('general') returning id`,
    );
    const room = Number(rows[0]!.id);
    await server.sql.query('insert into public.members (room_id, user_id) values ($1, $2), ($1, $3), ($1, $4)', [
      room,
      ada.id,
      bob.id,
      cy.id,
    ]);
    const sent = await ada.client.from('messages').insert({ room_id: room, body: 'lunch?' });
    expect(sent.error).toBeNull();

    for (const browser of [browsers.bob, bobPhone, browsers.cy])
      await waitForValue("a member's push", () => (pushesTo(browser).length ? true : undefined));
    const expected = { title: 'general', body: 'lunch?', room };
    for (const browser of [browsers.bob, bobPhone, browsers.cy]) {
      expect(pushesTo(browser)).toHaveLength(1);
      expect(JSON.parse(pushesTo(browser)[0]!.plaintext)).toMatchObject(expected);
      expect(pushesTo(browser)[0]!.headers).toMatchObject({ urgency: 'high', topic: `room${room}` });
    }
    await sleep(300);
    expect(pushesTo(browsers.ada)).toEqual([]);
  });
});

describe('two instances on one database', () => {
  test('the second serves the key the first made, and pushes from both are signed with it', async () => {
    const second = await startTestServer({
      databaseUrl: server.databaseUrl,
      env: { PUSH_CA_FILE: push.caFile, PUSH_VAPID_SUBJECT: 'mailto:push-test@example.com' },
    });
    try {
      const keyOf = async (url: string) =>
        ((await (await fetch(`${url}/push/v1/vapid-public-key`)).json()) as { publicKey: string }).publicKey;
      expect(await keyOf(second.url)).toBe(await keyOf(server.url));
      expect((await server.sql.query('select 1 from trellis.push_vapid_keys')).rowCount).toBe(1);
      const browser = push.browser();
      await server.sql.query(
        'insert into trellis.push_subscriptions (user_id, endpoint, p256dh, auth) values ($1, $2, $3, $4)',
        [users[0]!.id, browser.endpoint, browser.p256dh, browser.auth],
      );
      const before = push.refused.length;
      await server.sql.query(`select trellis.send_push($1, jsonb_build_object('n', n)) from generate_series(1, 20) n`, [
        users[0]!.id,
      ]);
      await waitForValue('20 pushes', () => (pushesTo(browser).length >= 20 ? true : undefined));
      expect(push.refused.slice(before)).toEqual([]);
    } finally {
      await second.stop();
    }
  }, 60_000);
});

describe('send_push refuses bad input', () => {
  test.each([
    [
      'a payload over 4 KiB',
      `'{"x": "${'a'.repeat(4100)}"}'::jsonb`,
      '86400',
      "'normal'",
      'null',
      /push payload is 4\d{3} bytes of JSON; a push carries at most 3993/,
    ],
    ['a TTL over 28 days', `'{}'`, '9999999', "'normal'", 'null', /ttl must be between 0 and 2419200/],
    ['an unknown urgency', `'{}'`, '60', "'urgent'", 'null', /urgency must be very-low, low, normal or high/],
    ['a topic with spaces', `'{}'`, '60', "'low'", "'two words'", /topic must be 1 to 32 base64url characters/],
  ])('%s', async (_name, payload, ttl, urgency, topic, message) => {
    await expect(
      server.sql.query(`select trellis.send_push($1, ${payload}, ${ttl}, ${urgency}, ${topic})`, [users[0]!.id]),
    ).rejects.toThrow(message);
  });

  test('authenticated users cannot call it; service_role can, through trellis_push.send', async () => {
    const denied = await users[0]!.client.schema('trellis_push').rpc('send', { user_id: users[1]!.id, payload: {} });
    expect(denied.status).toBe(403);
    const service = supabaseClient(server, server.serviceRoleKey);
    const allowed = await service.schema('trellis_push').rpc('send', { user_id: users[1]!.id, payload: { hi: 1 } });
    expect(allowed.error).toBeNull();
    expect(allowed.data).toBe(
      Number(
        (await server.sql.query('select count(*) from trellis.push_subscriptions where user_id = $1', [users[1]!.id]))
          .rows[0].count,
      ),
    );
    const big = await service
      .schema('trellis_push')
      .rpc('send', { user_id: users[1]!.id, payload: { x: 'a'.repeat(5000) } });
    expect(big.status).toBe(400);
    expect(big.error?.message).toMatch(/a push carries at most 3993/);
  });
});
