/**
 * Auth hooks as Supabase defines them ([auth.hook.*]): the runner, which calls a hook's Postgres
 * function or HTTP endpoint with `{metadata, …input}` and returns its JSON answer, or throws the
 * error GoTrue answers (internal/hooks/v0hooks). A hook may refuse with `{error: {http_code,
 * message}}`, which is passed through. The hooks themselves are wired where GoTrue calls them:
 * access tokens (sessions.ts, through SessionSettings), auth mails (email.ts), password sign-in
 * (account.ts), MFA verification (mfa.ts); `sendSmsHook` is for the SMS path.
 */
import crypto from 'node:crypto';
import type { Config } from '../config.js';
import type { HookName, HookTarget } from '../config/hooks.js';
import type { Db, Tx } from '../db/index.js';
import { ApiError } from '../errors.js';
import type { Logger } from '../platform/logger.js';
import { errors } from './errors.js';
import { callHttpHook } from './hooks-http.js';
import { callPgHook } from './hooks-pg.js';

export type { HookName } from '../config/hooks.js';

/** GoTrue's hook names in the `metadata.name` of every payload. */
const METADATA_NAME: Record<HookName, string> = {
  customAccessToken: 'customize-access-token',
  sendEmail: 'send-email',
  sendSms: 'send-sms',
  mfaVerificationAttempt: 'mfa-verification',
  passwordVerificationAttempt: 'password-verification',
};

export interface HookCall {
  /** The request's transaction: a Postgres-function hook runs in it (an HTTP hook never needs it). */
  readonly tx?: Tx | undefined;
  readonly ip?: string | undefined;
}

export interface Hooks {
  enabled(name: HookName): boolean;
  /** The hook's JSON answer (null for none), after its `{error}` was turned into a thrown ApiError. */
  run(name: HookName, input: Record<string, unknown>, call?: HookCall): Promise<unknown>;
}

export function createHooks(deps: { readonly db: Db; readonly config: Config; readonly log: Logger }): Hooks {
  const { targets, httpTimeoutMs, pgTimeoutMs } = deps.config.auth.hooks;
  return {
    enabled: (name) => targets[name] !== undefined,
    async run(name, input, call = {}) {
      const target = targets[name];
      if (!target) throw new Error(`the ${name} hook is not enabled`);
      const payload = JSON.stringify({
        metadata: {
          uuid: crypto.randomUUID(),
          time: new Date().toISOString(),
          name: METADATA_NAME[name],
          ...(call.ip ? { ip_address: call.ip } : {}),
        },
        ...input,
      });
      const started = performance.now();
      try {
        const output = await dispatch(deps.db, target, payload, call.tx, { httpTimeoutMs, pgTimeoutMs });
        checkRefusal(output);
        deps.log.debug({ hook: name, ms: Math.round(performance.now() - started) }, 'auth hook ran');
        return output;
      } catch (err) {
        deps.log.warn({ err, hook: name, uri: target.uri }, 'auth hook failed');
        if (err instanceof ApiError) throw err;
        throw errors.hookFailed(`Error running hook URI: ${target.uri}`);
      }
    },
  };
}

async function dispatch(
  db: Db,
  target: HookTarget,
  payload: string,
  tx: Tx | undefined,
  timeouts: { httpTimeoutMs: number; pgTimeoutMs: number },
): Promise<unknown> {
  if (target.kind === 'http') {
    const text = await callHttpHook(target.url, target.secrets, payload, { timeoutMs: timeouts.httpTimeoutMs });
    return text === undefined ? null : parseOutput(text);
  }
  const run = (t: Tx) => callPgHook(t, target.schema, target.fn, payload, timeouts.pgTimeoutMs);
  const output = tx ? await run(tx) : await db.transaction(run);
  // A function declared `returns text` (or json as text) answers a string holding the JSON.
  return typeof output === 'string' ? parseOutput(output) : output;
}

function parseOutput(text: string): unknown {
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw errors.hookFailed('Error unmarshaling JSON output.');
  }
}

/** `{error: {http_code, message}}` with a message is the hook refusing; GoTrue's hookserrors.Check. */
function checkRefusal(output: unknown): void {
  if (!isObject(output) || !isObject(output.error)) return;
  const { http_code: status, message } = output.error;
  if (typeof message !== 'string' || message === '') return;
  throw errors.hookRefused(
    typeof status === 'number' && Number.isInteger(status) && status !== 0 ? status : 500,
    message,
  );
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A hook's answer that is not an object where GoTrue unmarshals one: its "Error unmarshaling JSON output.". */
export function outputObject(output: unknown): Record<string, unknown> {
  if (output === null) return {};
  if (!isObject(output)) throw errors.hookFailed('Error unmarshaling JSON output.');
  return output;
}
