/**
 * Web push, end to end: a chat message is inserted into a room of SUBSCRIBERS + 1 members, each
 * other member with one browser subscription; a trigger calls trellis.send_push for each of them
 * (docs/push.md), and Trellis's job runner encrypts and sends every push to a push service on
 * loopback (HTTPS, a throwaway certificate, answering 201). A push's latency is its arrival at the
 * push service less the moment the insert was sent; each round is one message, and the figures are
 * p50 / p99 / max over every push of every round.
 *
 * The floor is the same pushes sent by the thinnest code: a process of its own (as Trellis's
 * sender is one, apart from this process's push service; bench/floors/push-sender.mjs) calls
 * web-push's sendNotification for every subscription (as many in flight as the runner's workers
 * take, over a kept-alive agent, the VAPID token signed once as the runner does), timed from
 * handing it the job: the encryption and the HTTPS round trips without the insert, the trigger and
 * the job runner.
 *
 *   npx tsx bench/push.ts [--subscribers 1000] [--rounds 3] [--write]
 */
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import pg from 'pg';
import webpush from 'web-push';
import { report } from './report.js';
import { withBenchServer } from './server.js';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
    write: { type: 'boolean', default: false },
  },
});
const SUBSCRIBERS = Number(values.subscribers);
const ROUNDS = Number(values.rounds);
// What src/jobs/push/start.ts gives the runner: 2 fetch loops taking batches of 25.
const IN_FLIGHT = 50;

const CHAT = `
create table public.rooms (id bigint generated always as identity primary key, name text not null);
create table public.members (room_id bigint references public.rooms, user_id uuid references auth.users, primary key (room_id, user_id));
create table public.messages (id bigint generated always as identity primary key, room_id bigint not null references public.rooms,
                              sender uuid not null references auth.users, body text not null);
create function public.push_new_message() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform trellis.send_push(m.user_id, jsonb_build_object('title', r.name, 'body', new.body, 'room', new.room_id, 'message', new.id),
                            urgency => 'high', topic => 'room' || new.room_id)
     from public.members m join public.rooms r on r.id = m.room_id
    where m.room_id = new.room_id and m.user_id <> new.sender;
  return new;
end $$;
create trigger push_new_message after insert on public.messages for each row execute function public.push_new_message();
`;

interface PushService {
  readonly origin: string;
  readonly caFile: string;
  /** Arrival times (performance.now()) of pushes since the last reset. */
  arrivals: number[];
  close(): Promise<void>;
}

/** A push service that reads each push and answers 201 (the browser, not the service, decrypts). */
async function startPushService(dir: string): Promise<PushService> {
  const keyFile = path.join(dir, 'key.pem');
  const caFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2'].concat([
      '-keyout',
      keyFile,
      '-out',
      caFile,
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]),
    { stdio: 'ignore' },
  );
  const service: PushService = { origin: '', caFile, arrivals: [], close: async () => undefined };
  const server = https.createServer({ key: fs.readFileSync(keyFile), cert: fs.readFileSync(caFile) }, (req, res) => {
    req.resume();
    req.on('end', () => {
      service.arrivals.push(performance.now());
      res.writeHead(201).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(service, {
    origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

async function waitForArrivals(service: PushService, count: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (service.arrivals.length < count) {
    if (Date.now() > deadline) throw new Error(`only ${service.arrivals.length} of ${count} pushes arrived in 120 s`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-push-'));
  const service = await startPushService(dir);
  const migration = path.join(dir, 'chat.sql');
  fs.writeFileSync(migration, CHAT);
  const subscriptions = Array.from({ length: SUBSCRIBERS }, (_, i) => {
    const ecdh = crypto.createECDH('prime256v1');
    ecdh.generateKeys();
    return {
      endpoint: `${service.origin}/push/${i}`,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: crypto.randomBytes(16).toString('base64url') },
    };
  });
  try {
    await withBenchServer(
      { env: { PUSH_CA_FILE: service.caFile }, migrations: { '20240101000000_chat.sql': migration } },
      async ({ dbUrl }) => {
        const sql = new pg.Pool({ connectionString: dbUrl, max: 2 });
        try {
          const users = await sql.query<{ id: string }>(
            `insert into auth.users (id, email) select gen_random_uuid(), 'user' || i || '@example.com'
               from generate_series(0, $1) i returning id`,
            [SUBSCRIBERS],
          );
          const [sender, ...members] = users.rows.map((r) => r.id);
          const room = (
            await sql.query<{ id: string }>(`insert into public.rooms (name) values ('general') returning id`)
          ).rows[0]!.id;
          await sql.query('insert into public.members select $1, unnest($2::uuid[])', [room, [sender, ...members]]);
          await sql.query(
            `insert into trellis.push_subscriptions (user_id, endpoint, p256dh, auth)
             select unnest($1::uuid[]), unnest($2::text[]), unnest($3::text[]), unnest($4::text[])`,
            [
              members,
              subscriptions.map((s) => s.endpoint),
              subscriptions.map((s) => s.keys.p256dh),
              subscriptions.map((s) => s.keys.auth),
            ],
          );
          const { public_key, private_key } = (
            await sql.query<{ public_key: string; private_key: string }>(
              'select public_key, private_key from trellis.push_vapid_keys',
            )
          ).rows[0]!;

          const trellis: number[] = [];
          const floor: number[] = [];
          const insertMs: number[] = [];
          // Signed once, as the runner's delivery does (src/jobs/push/vapid.ts).
          const { Authorization } = webpush.getVapidHeaders(
            service.origin,
            'mailto:admin@localhost',
            public_key,
            private_key,
            'aes128gcm',
          );
          // The floor's sender: one process for every round, warmed up with the pushes of a first job.
          const floorSender = spawn(process.execPath, [path.join(import.meta.dirname, 'floors', 'push-sender.mjs')], {
            stdio: ['pipe', 'pipe', 'inherit'],
          });
          const answers = readline.createInterface({ input: floorSender.stdout })[Symbol.asyncIterator]();
          const ca = fs.readFileSync(service.caFile, 'utf8');
          const floorSend = async (body: string) => {
            const job = {
              subscriptions,
              body,
              authorization: Authorization,
              ca,
              inFlight: IN_FLIGHT,
              topic: `room${room}`,
            };
            floorSender.stdin.write(`${JSON.stringify(job)}\n`);
            if ((await answers.next()).done) throw new Error('the floor sender exited');
          };
          await floorSend(JSON.stringify({ title: 'general', body: 'warm-up', room: Number(room) }));
          await waitForArrivals(service, SUBSCRIBERS);
          service.arrivals = [];
          // A warm-up message, so that the first round does not pay for connections and JIT.
          await sql.query('insert into public.messages (room_id, sender, body) values ($1, $2, $3)', [
            room,
            sender,
            'warm-up',
          ]);
          await waitForArrivals(service, SUBSCRIBERS);
          for (let round = 0; round < ROUNDS; round++) {
            await new Promise((r) => setTimeout(r, 500));
            service.arrivals = [];
            const sent = performance.now();
            await sql.query('insert into public.messages (room_id, sender, body) values ($1, $2, $3)', [
              room,
              sender,
              `message ${round}`,
            ]);
            insertMs.push(performance.now() - sent);
            await waitForArrivals(service, SUBSCRIBERS);
            trellis.push(...service.arrivals.map((t) => t - sent));

            await new Promise((r) => setTimeout(r, 500));
            service.arrivals = [];
            const body = JSON.stringify({ title: 'general', body: `message ${round}`, room: Number(room) });
            service.arrivals = [];
            const started = performance.now();
            await floorSend(body);
            await waitForArrivals(service, SUBSCRIBERS);
            floor.push(...service.arrivals.map((t) => t - started));
          }
          floorSender.stdin.end();
          const t = [...trellis].sort((a, b) => a - b);
          const f = [...floor].sort((a, b) => a - b);
          const ms = (x: number) => `${x.toFixed(0)} ms`;
          const table = [
            '| Path | p50 | p99 | max | p99 ratio to the floor |',
            '| --- | --- | --- | --- | --- |',
            `| Trellis: message insert → trigger → \`send_push\` → \`add_job\` → job runner → web-push → push service | ${ms(quantile(t, 0.5))} | ${ms(quantile(t, 0.99))} | ${ms(t[t.length - 1]!)} | ${(quantile(t, 0.99) / quantile(f, 0.99)).toFixed(2)} |`,
            `| floor: web-push's \`sendNotification\` from a process of its own, ${IN_FLIGHT} in flight | ${ms(quantile(f, 0.5))} | ${ms(quantile(f, 0.99))} | ${ms(f[f.length - 1]!)} | 1.00 |`,
            '',
            `The insert itself (its trigger queueing ${SUBSCRIBERS} pushes, committed): ${insertMs.map((x) => x.toFixed(0)).join(', ')} ms.`,
          ].join('\n');
          report(
            'push',
            `\`npx tsx bench/push.ts\` (${SUBSCRIBERS} subscribers in one room, ${ROUNDS} messages after a warm-up one, ${SUBSCRIBERS * ROUNDS} pushes per path; a push service on loopback over HTTPS)`,
            table,
            values.write === true,
          );
        } finally {
          await sql.end();
        }
      },
    );
  } finally {
    await service.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
