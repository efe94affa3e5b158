/**
 * Issue 17's done-when, seed 003's flow end to end: a chat message inserted through supabase-js
 * fires a trigger that queues, for each other member of the room, a web push (members with a
 * browser subscription: the loopback push service checks the VAPID token and decrypts it) or an
 * email (members without: through the first provider with quota left, here the second, since the
 * first one's daily quota is spent).
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startMailApi, type MailApiServer } from '../../helpers/mail-providers.js';
import { startPushService, type PushService } from '../../helpers/push-service.js';
import { CHAT_ROOMS_SQL } from '../../helpers/chat-rooms.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

const CHAT = `${CHAT_ROOMS_SQL}
-- "Don't block the request": the trigger only queues; the job runner delivers after the commit.
create function public.notify_members() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  member record;
begin
  for member in
    select m.user_id, u.email, r.name as room,
           exists (select 1 from trellis.push_subscriptions s where s.user_id = m.user_id) as has_push
      from public.members m join public.rooms r on r.id = m.room_id join auth.users u on u.id = m.user_id
     where m.room_id = new.room_id and m.user_id <> new.sender
  loop
    if member.has_push then
      perform trellis.send_push(member.user_id, jsonb_build_object('title', member.room, 'body', new.body, 'room', new.room_id));
    else
      perform trellis.send_email(member.email, 'new_message', jsonb_build_object('room', member.room, 'body', new.body));
    end if;
  end loop;
  return new;
end $$;
create trigger notify_members after insert on public.messages
  for each row execute function public.notify_members();
`;

let push: PushService;
let first: MailApiServer;
let second: MailApiServer;
let server: TestServer;
const users: { client: SupabaseClient; id: string; email: string }[] = [];

beforeAll(async () => {
  [push, first, second] = await Promise.all([startPushService(), startMailApi('resend'), startMailApi('postmark')]);
  server = await startTestServer({
    migrations: { '20240101000000_chat.sql': CHAT },
    env: { PUSH_CA_FILE: push.caFile, PUSH_VAPID_SUBJECT: 'mailto:seed-003@example.com' },
    templates: { 'new_message.html': '<!-- subject: New in {{ .room }} -->\n<p>{{ .body }}</p>\n' },
    files: {
      'supabase/config.toml': `
[[mail.providers]]
kind = "resend"
url = "${first.url}"
api_key = "${first.apiKey}"
daily_quota = 1

[[mail.providers]]
kind = "postmark"
url = "${second.url}"
api_key = "${second.apiKey}"
daily_quota = 100
`,
    },
  });
  for (const name of ['ada', 'bob', 'cy']) {
    const client = supabaseClient(server);
    const email = `${name}@example.com`;
    const { data, error } = await client.auth.signUp({ email, password: `${name} password 1` });
    if (error) throw error;
    users.push({ client, id: data.user!.id, email });
  }
  const { rows } = await server.sql.query<{ id: string }>(
    "insert into public.rooms (name) values ('lunch') returning id",
  );
  for (const u of users) await server.sql.query('insert into public.members values ($1, $2)', [rows[0]!.id, u.id]);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await Promise.allSettled([push?.close(), first?.close(), second?.close()]);
});

test('a message pushes to the member with a browser and mails the one without, through the first provider with quota left', async () => {
  const [ada, bob, cy] = users as [(typeof users)[0], (typeof users)[0], (typeof users)[0]];
  // The first provider's one mail of the day goes to someone else.
  await server.sql.query(
    'select trellis.send_email(\'early@example.com\', \'new_message\', \'{"room": "x", "body": "y"}\')',
  );
  await first.next('early@example.com');

  const browser = push.browser();
  const stored = await bob.client
    .schema('trellis_push')
    .from('subscriptions')
    .insert({ endpoint: browser.endpoint, p256dh: browser.p256dh, auth: browser.auth });
  expect(stored.error).toBeNull();

  const room = (await server.sql.query<{ id: string }>('select id from public.rooms')).rows[0]!.id;
  const sent = await ada.client.from('messages').insert({ room_id: Number(room), body: 'soup at noon?' });
  expect(sent.error).toBeNull();

  const mail = await second.next(cy.email);
  expect(JSON.stringify(mail.body)).toContain('soup at noon?');
  expect(JSON.stringify(mail.body)).toContain('New in lunch');
  const deadline = Date.now() + 20_000;
  while (!push.received.some((r) => r.browser === browser.id) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  const pushed = push.received.filter((r) => r.browser === browser.id);
  expect(pushed.map((r) => JSON.parse(r.plaintext) as unknown)).toEqual([
    { title: 'lunch', body: 'soup at noon?', room: Number(room) },
  ]);
  expect(push.refused).toEqual([]);
  // Nobody else heard of it: not the sender, not bob by mail, not the spent first provider.
  expect(first.accepted.map((r) => first.recipientOf(r))).toEqual(['early@example.com']);
  expect(second.accepted.map((r) => second.recipientOf(r))).toEqual([cy.email]);
  const log = async () =>
    (
      await server.sql.query(
        "select recipient, provider, status from trellis.mail_log where source = 'app' order by id",
      )
    ).rows;
  // The row says sent once the provider's answer is recorded, a moment after the provider has it.
  for (let i = 0; i < 100 && JSON.stringify(await log()).includes('"queued"'); i++)
    await new Promise((r) => setTimeout(r, 50));
  expect(await log()).toEqual([
    { recipient: 'early@example.com', provider: 'resend', status: 'sent' },
    { recipient: cy.email, provider: 'postmark', status: 'sent' },
  ]);
});
