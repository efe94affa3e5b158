/**
 * The chat floor does Trellis's database work: the history under the reader's claims, the insert
 * under the author's (RLS's with check), and a membership check of every receiver before a
 * message goes to its socket, as Trellis authorises each change for each subscriber.
 */
import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { chatFloorServer } from '../../src/capacity/chat-floor-server.js';
import { chatScenario } from '../../src/capacity/scenarios/chat.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const member = '00000000-0000-4000-8000-000000000001';
const other = '00000000-0000-4000-8000-000000000002';
const claims = (sub: string) => ({ sub, role: 'authenticated', aud: 'authenticated' });

describe('the chat floor', () => {
  let server: TestServer;
  let floor: http.Server;
  let url: string;
  let room: number;
  beforeAll(async () => {
    server = await startTestServer({ migrations: { '20240101000000_bench.sql': chatScenario.schema ?? '' } });
    const { rows } = await server.sql.query<{ id: number }>(
      "insert into public.bench_chat_rooms (name) values ('a') returning id::int",
    );
    room = rows[0]?.id ?? 0;
    await server.sql.query('insert into public.bench_chat_members (room_id, user_id) values ($1, $2)', [room, member]);
    floor = await chatFloorServer(server.databaseUrl, 'ws');
    await new Promise<void>((resolve) => floor.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(floor.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => floor.close(resolve));
    await server.stop();
  });

  const post = (path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  /** A room socket as `uid`, with the messages it receives. */
  async function socket(uid: string): Promise<{ ws: WebSocket; messages: { body: string }[] }> {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/?room=${room}&uid=${uid}`);
    const messages: { body: string }[] = [];
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as { message?: { body: string } };
      if (frame.message) messages.push(frame.message);
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return { ws, messages };
  }

  test("a message reaches the room's members only: each receiver is checked", async () => {
    const [a, b] = await Promise.all([socket(member), socket(other)]);
    expect((await post('/post', { claims: claims(member), values: [room, 'sent 1'] })).status).toBe(201);
    await expect.poll(() => a.messages.length).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(a.messages[0]?.body).toBe('sent 1');
    // The socket in the room whose user is no member hears nothing.
    expect(b.messages).toEqual([]);
    a.ws.close();
    b.ws.close();
  });

  test("the insert and the history run under the caller's claims (RLS)", async () => {
    const refused = await post('/post', { claims: claims(other), values: [room, 'sent 2'] });
    expect(refused.status).toBe(500);
    expect(await refused.text()).toMatch(/row-level security/);
    const mine = await post('/history', { claims: claims(member), values: [room] });
    expect(((await mine.json()) as unknown[]).length).toBeGreaterThan(0);
    const theirs = await post('/history', { claims: claims(other), values: [room] });
    expect(await theirs.json()).toEqual([]);
  });

  test('a socket without a uuid is closed; malformed JSON is a 400, an unknown path a 404', async () => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/?room=${room}&uid=nobody`);
    const code = await new Promise<number>((resolve) => ws.once('close', resolve));
    expect(code).toBe(1008);
    const bad = await fetch(`${url}/post`, { method: 'POST', body: '{"claims":' });
    expect(bad.status).toBe(400);
    expect((await fetch(`${url}/nowhere`, { method: 'POST', body: '{}' })).status).toBe(404);
  });
});
