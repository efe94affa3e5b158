/**
 * HTTP auth hooks: a POST of the JSON payload signed with the standard-webhooks scheme
 * (webhook-id, webhook-timestamp, webhook-signature: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
 * per secret), answered as GoTrue's internal/hooks/hookshttp answers: one deadline for all attempts
 * (422 hook_timeout), up to three attempts when the endpoint cannot be reached (2 s apart) or
 * answers 429/503 with Retry-After, a JSON body of at most 200 KiB.
 */
import crypto from 'node:crypto';
import type { ApiError } from '../errors.js';
import { errors } from './errors.js';

export interface HttpHookOptions {
  readonly timeoutMs: number;
  /** Wait between attempts that could not reach the endpoint (GoTrue: 2 s). */
  readonly backoffMs?: number;
  readonly retries?: number;
}

const RESPONSE_LIMIT = 200 * 1024;

/** The standard-webhooks signature of one message under `key`. */
export function signWebhook(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${crypto.createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** The hook's answer (`undefined` for 204 No Content), or the error GoTrue would answer. */
export async function callHttpHook(
  url: string,
  secrets: readonly Buffer[],
  body: string,
  options: HttpHookOptions,
): Promise<string | undefined> {
  const retries = options.retries ?? 3;
  const backoffMs = options.backoffMs ?? 2000;
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const timedOut = () => errors.hookTimeout(options.timeoutMs / 1000);
  for (let attempt = 0; attempt < retries; attempt++) {
    const id = crypto.randomUUID();
    const timestamp = Math.floor(Date.now() / 1000);
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        body,
        signal: deadline,
        redirect: 'manual',
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': secrets.map((key) => signWebhook(key, id, timestamp, body)).join(' '),
          'accept-encoding': 'identity',
        },
      });
    } catch {
      if (deadline.aborted) throw timedOut();
      if (attempt === retries - 1) throw errors.hookTimeoutAfterRetry();
      if (!(await pause(backoffMs, deadline))) throw timedOut();
      continue;
    }
    const outcome = await judge(response, deadline);
    if (outcome.kind === 'retry') continue;
    if (outcome.kind === 'timeout') throw timedOut();
    return outcome.text;
  }
  throw errors.hookFailed('Service currently unavailable due to hook');
}

type Outcome = { kind: 'answer'; text: string | undefined } | { kind: 'retry' } | { kind: 'timeout' };

async function judge(response: Response, deadline: AbortSignal): Promise<Outcome> {
  switch (response.status) {
    case 204:
      await response.body?.cancel();
      return { kind: 'answer', text: undefined };
    case 200:
    case 202:
      break;
    case 429:
    case 503:
      await response.body?.cancel();
      if (response.headers.get('retry-after')) return { kind: 'retry' };
      throw errors.hookFailed('Service currently unavailable due to hook');
    case 400:
      await response.body?.cancel();
      throw errors.hookFailed('Invalid payload sent to hook');
    case 401:
      await response.body?.cancel();
      throw errors.hookFailed('Hook requires authorization token');
    default:
      await response.body?.cancel();
      throw errors.hookFailed(`Unexpected status code returned from hook: ${response.status}`);
  }
  const type = response.headers.get('content-type');
  const problem = contentTypeProblem(type);
  if (problem) {
    await response.body?.cancel();
    throw problem;
  }
  try {
    return { kind: 'answer', text: await readLimited(response) };
  } catch (err) {
    if (deadline.aborted) return { kind: 'timeout' };
    throw err;
  }
}

function contentTypeProblem(type: string | null): ApiError | undefined {
  if (type === null || type === '') return errors.hookContentType('Invalid Content-Type: Missing Content-Type header');
  const media = type.split(';')[0]?.trim().toLowerCase() ?? '';
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(media))
    return errors.hookContentType(`Invalid Content-Type header: ${type.slice(0, 100)}`);
  if (media !== 'application/json')
    return errors.hookContentType(`Invalid JSON response. Received content-type: ${type.slice(0, 100)}`);
  return undefined;
}

/** The body as text, refused past 200 KiB (an endpoint cannot make the server buffer more). */
async function readLimited(response: Response): Promise<string> {
  if (!response.body) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += (chunk as Uint8Array).byteLength;
    if (size > RESPONSE_LIMIT) {
      await response.body.cancel().catch(() => undefined);
      throw errors.hookOverSizeLimit(RESPONSE_LIMIT);
    }
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Waits `ms`; false when the deadline passes first. */
function pause(ms: number, deadline: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (deadline.aborted) return resolve(false);
    const timer = setTimeout(() => {
      deadline.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    deadline.addEventListener('abort', onAbort, { once: true });
  });
}
