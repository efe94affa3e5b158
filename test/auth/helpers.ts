/** What the pure auth checks read from an AuthContext: its config, loaded from `env` alone. */
import type { AuthContext } from '../../src/auth/context.js';
import { ApiError } from '../../src/errors.js';
import { loadConfig } from '../../src/config.js';

export function contextWith(env: NodeJS.ProcessEnv = {}): AuthContext {
  // safeRedirect and checkPassword read ctx.config only; the services stay out of a unit test.
  return { config: loadConfig({}, env) } as AuthContext;
}

/** The ApiError `fn` throws, as the parts a client sees; fails the test when it throws nothing else. */
export function refusal(fn: () => unknown): { status: number; code: string; message: string; fields?: unknown } {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return {
      status: err.status,
      code: err.code,
      message: err.message,
      ...(err.extra.fields ? { fields: err.extra.fields } : {}),
    };
  }
  throw new Error('expected an ApiError, nothing was thrown');
}
