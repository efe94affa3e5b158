/**
 * The one HTTP exchange every SMS provider makes: a form-encoded POST, a deadline, and a JSON answer.
 * A helper of the seam (implementations import it and sms.ts, never each other).
 */
import { SmsSendError } from './sms.js';

export interface FormAnswer {
  readonly status: number;
  /** The parsed JSON body; undefined when the body was not JSON. */
  readonly json: unknown;
}

/** POSTs `fields` as application/x-www-form-urlencoded; network failures and timeouts become SmsSendError. */
export async function postForm(
  url: string,
  fields: Record<string, string>,
  options: { readonly headers?: Record<string, string>; readonly timeoutMs: number },
): Promise<FormAnswer> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...options.headers },
      body: new URLSearchParams(fields).toString(),
      signal: AbortSignal.timeout(options.timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    throw new SmsSendError(timedOut ? `no answer within ${options.timeoutMs} ms` : 'the provider could not be reached');
  }
  let text: string;
  try {
    text = await response.text();
  } catch {
    throw new SmsSendError(`the provider's answer (HTTP ${response.status}) was cut off`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json };
}

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** A field of a JSON object answer, or undefined. */
export function field(json: unknown, name: string): unknown {
  return json !== null && typeof json === 'object' && !Array.isArray(json)
    ? (json as Record<string, unknown>)[name]
    : undefined;
}

export function text(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}

/**
 * The error body of Twilio's APIs (Messages and Verify): {code, message, more_info, status},
 * worded as GoTrue words it. `who` names the API when the body says nothing.
 */
export function twilioError(who: string, status: number, json: unknown): SmsSendError {
  const message = text(field(json, 'message'));
  if (message === '') return new SmsSendError(`${who} answered HTTP ${status} without an error body`);
  return new SmsSendError(`${message} More information: ${text(field(json, 'more_info'))}`);
}

/** The base URL without a trailing slash: the setting's override or the provider's own. */
export function base(override: string | undefined, fallback: string): string {
  return (override ?? fallback).replace(/\/+$/, '');
}
