/**
 * Broadcast from the server side over HTTP, as Supabase Realtime's API:
 * - POST /realtime/v1/api/broadcast {messages: [{topic, event, payload, private}]} -> 202
 * - POST /realtime/v1/api/broadcast/:topic/events/:event (realtime-js httpSend; JSON or bytes) -> 202
 * The caller is the bearer token (else the apikey's role). A private topic needs the insert policy
 * on realtime.messages to allow the caller (service_role bypasses RLS); the whole request is refused
 * when one message is not allowed, so a request is sent entirely or not at all.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { readJson, limitBody, jsonDepthExceeds, nulMessage } from '../platform/body.js';
import { headerOf } from '../platform/http.js';
import { requireApiKey, type KeyEnv } from '../platform/keys.js';
import { bearerToken } from '../platform/tokens.js';
import { checkToken, topicPolicies } from './authorize.js';
import type { UserBroadcast } from './codec.js';
import type { Realtime } from './socket.js';
import { stringifyJson } from '../platform/json.js';

const CODES = { badJson: 'bad_json', invalid: 'validation_failed' };
const MAX_MESSAGES = 100;

// A topic names a private channel's policies in PostgreSQL, whose text refuses NUL (22021); an
// event goes out beside it. Neither may hold one, on private topics and public alike.
const name = z
  .string()
  .min(1)
  .max(255)
  .refine((s) => !s.includes('\u0000'), 'must not contain the NUL character (\\u0000)');
const messageSchema = z.object({
  topic: name,
  event: name,
  payload: z.unknown().optional(),
  private: z.boolean().optional(),
});
const bodySchema = z.object({ messages: z.array(messageSchema).min(1).max(MAX_MESSAGES) });

interface Outgoing {
  readonly topic: string;
  readonly isPrivate: boolean;
  readonly broadcast: UserBroadcast;
}

/** `rateLimit`: RATE_LIMIT_REALTIME's middleware (one point per request), when that limit is on. */
export function realtimeRoutes(realtime: Realtime, rateLimit?: MiddlewareHandler<KeyEnv>): Hono<KeyEnv> {
  const { ctx } = realtime;
  const app = new Hono<KeyEnv>();
  app.use('*', requireApiKey(ctx.tokens));
  if (rateLimit) app.use('*', rateLimit);
  app.use(
    '*',
    limitBody(MAX_MESSAGES * ctx.limits.maxPayloadBytes, () => {
      throw new ApiError(413, 'payload_too_large', 'Payload Too Large', { headers: { connection: 'close' } });
    }),
  );

  const send = async (c: Context<KeyEnv>, messages: readonly Outgoing[]) => {
    for (const m of messages) {
      const size = m.broadcast.binary ? m.broadcast.binary.length : Buffer.byteLength(m.broadcast.json ?? '');
      if (size > ctx.limits.maxPayloadBytes)
        throw new ApiError(
          413,
          'payload_too_large',
          `Payload too large: the limit is ${ctx.limits.maxPayloadBytes} bytes`,
        );
    }
    const privateTopics = [...new Set(messages.filter((m) => m.isPrivate).map((m) => m.topic))];
    if (privateTopics.length > 0) {
      const token = bearerToken(headerOf(c, 'authorization')) ?? headerOf(c, 'apikey') ?? c.req.query('apikey') ?? '';
      const check = await checkToken(ctx.tokens, token);
      if (!check.ok) throw new ApiError(401, 'unauthorized', check.reason);
      for (const topic of privateTopics) {
        const policies = await topicPolicies(ctx.db, check.claims, topic);
        if (!policies.broadcastWrite)
          throw new ApiError(
            403,
            'unauthorized',
            `You do not have permissions to write to this Channel topic: ${topic}`,
          );
      }
    }
    for (const m of messages) realtime.broadcast(m.topic, m.isPrivate, m.broadcast);
    return c.body(null, 202);
  };

  app.post('/api/broadcast', async (c) => {
    const body = await readJson(c, bodySchema, CODES);
    if (jsonDepthExceeds(body)) throw new ApiError(400, CODES.invalid, 'payload is nested too deeply');
    return send(
      c,
      body.messages.map((m) => ({
        topic: m.topic,
        isPrivate: m.private === true,
        broadcast: { event: m.event, json: stringifyJson(m.payload ?? {}) },
      })),
    );
  });

  app.post('/api/broadcast/:topic/events/:event', async (c) => {
    const topic = c.req.param('topic');
    const event = c.req.param('event');
    const isPrivate = c.req.query('private') === 'true';
    for (const [field, value] of [
      ['topic', topic],
      ['event', event],
    ] as const) {
      if (value.includes('\u0000')) throw new ApiError(400, CODES.invalid, nulMessage(field));
    }
    const type = headerOf(c, 'content-type') ?? '';
    let broadcast: UserBroadcast;
    if (type.startsWith('application/octet-stream')) {
      broadcast = { event, binary: new Uint8Array(await c.req.arrayBuffer()) };
    } else {
      const text = await c.req.text();
      try {
        JSON.parse(text);
      } catch (err) {
        throw new ApiError(400, CODES.badJson, `Could not parse request body as JSON: ${(err as Error).message}`);
      }
      broadcast = { event, json: text };
    }
    return send(c, [{ topic, isPrivate, broadcast }]);
  });
  return app;
}
