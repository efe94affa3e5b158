/** Checks of user input shared by the auth endpoints. */
import type { AuthContext } from './context.js';
import { errors } from './errors.js';
import { normaliseEmail } from './users.js';

export function checkPassword(ctx: AuthContext, password: string | undefined): string {
  if (password === undefined || password === '') throw errors.validation('Password is required');
  if ([...password].length < ctx.config.auth.passwordMinLength) throw errors.weakPassword(ctx.config.auth.passwordMinLength);
  if (Buffer.byteLength(password) > 72) throw errors.validation('Password cannot be longer than 72 characters');
  return password;
}

export function requireEmail(raw: string | undefined): string {
  if (raw === undefined || raw.trim() === '') throw errors.validation('An email address is required');
  const email = normaliseEmail(raw);
  if (!email) throw errors.invalidEmail(raw);
  return email;
}
