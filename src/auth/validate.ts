/** Checks of user input shared by the auth endpoints. */
import { z } from 'zod';
import type { AuthContext } from './context.js';
import { errors } from './errors.js';
import { normaliseEmail } from './users.js';
import { JsonNumber } from '../platform/json.js';

export function checkPassword(ctx: AuthContext, password: string | undefined): string {
  if (password === undefined || password === '') throw errors.validation('Password is required');
  if ([...password].length < ctx.config.auth.passwordMinLength)
    throw errors.weakPassword(ctx.config.auth.passwordMinLength);
  if (Buffer.byteLength(password) > 72) throw errors.validation('Password cannot be longer than 72 characters');
  return password;
}

export function requireEmail(raw: string | undefined): string {
  if (raw === undefined || raw.trim() === '') throw errors.validation('An email address is required');
  // GoTrue checks the length before the format.
  if (raw.length > 255) throw errors.validation('An email address is too long');
  const email = normaliseEmail(raw);
  if (!email) throw errors.invalidEmail();
  return email;
}

const MAX_METADATA_DEPTH = 64;

/** Why PostgreSQL's jsonb could not store `value`, if it could not. Iterative: hostile depth cannot overflow the stack. */
function unstorable(value: unknown): string | undefined {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (typeof current === 'string') {
      if (current.includes('\u0000')) return 'metadata cannot contain the NUL character (\\u0000)';
      continue;
    }
    if (current === null || typeof current !== 'object' || current instanceof JsonNumber) continue;
    if (depth > MAX_METADATA_DEPTH) return `metadata is nested more than ${MAX_METADATA_DEPTH} levels deep`;
    for (const [key, child] of Object.entries(current)) stack.push([key, depth], [child, depth + 1]);
  }
  return undefined;
}

/**
 * User and app metadata: a JSON object PostgreSQL's jsonb can hold. jsonb refuses the NUL
 * character (in keys and strings alike), and very deep nesting overflows both JSON.stringify and
 * PostgreSQL's parser, so both are a 400 here rather than a failed query.
 */
export const metadata = z.record(z.string(), z.unknown()).superRefine((value, check) => {
  const why = unstorable(value);
  if (why) check.addIssue({ code: 'custom', message: why });
});
