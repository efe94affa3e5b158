/**
 * The custom_access_token hook: `{user_id, claims, authentication_method}` in, `{claims}` out, and
 * the claims that come back are the access token's, once they pass GoTrue's minimum schema
 * (internal/tokens MinimumViableTokenSchema): the claims every Supabase service relies on must be
 * there, with their types. Anything else is refused with GoTrue's 500, so no token is issued.
 */
import type { Tx } from '../db/index.js';
import { errors } from './errors.js';
import { isObject, outputObject, type Hooks } from './hooks.js';

export type Claims = Record<string, unknown>;
/** Replaces an access token's claims before signing (SessionSettings.customizeClaims). */
export type ClaimsCustomizer = (tx: Tx, userId: string, claims: Claims, method: string) => Promise<Claims>;

const REQUIRED = ['aud', 'exp', 'iat', 'sub', 'email', 'phone', 'role', 'aal', 'session_id', 'is_anonymous'];
type Kind = 'string' | 'integer' | 'object' | 'string|array' | 'amr';
const TYPES: Record<string, Kind> = {
  aud: 'string|array',
  exp: 'integer',
  jti: 'string',
  iat: 'integer',
  iss: 'string',
  nbf: 'integer',
  sub: 'string',
  email: 'string',
  phone: 'string',
  app_metadata: 'object',
  user_metadata: 'object',
  role: 'string',
  aal: 'string',
  amr: 'amr',
  session_id: 'string',
  client_id: 'string',
};

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function fits(kind: Kind, value: unknown): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value);
    case 'object':
      return isObject(value);
    case 'string|array':
      return typeof value === 'string' || Array.isArray(value);
    case 'amr':
      return Array.isArray(value) && value.every((v) => typeof v === 'string' || isObject(v));
  }
}

/** What is wrong with `claims`, in gojsonschema's words (empty when nothing is). */
export function claimsProblems(claims: Claims): string[] {
  const problems = REQUIRED.filter((name) => !(name in claims)).map((name) => `(root): ${name} is required`);
  for (const [name, kind] of Object.entries(TYPES)) {
    if (!(name in claims) || fits(kind, claims[name])) continue;
    const expected = kind === 'amr' ? 'array of strings or objects' : kind.replace('|', ' or ');
    problems.push(`${name}: Invalid type. Expected: ${expected}, given: ${typeName(claims[name])}`);
  }
  return problems;
}

export function claimsCustomizer(hooks: Hooks): ClaimsCustomizer | undefined {
  if (!hooks.enabled('customAccessToken')) return undefined;
  return async (tx, userId, claims, method) => {
    const output = outputObject(
      await hooks.run('customAccessToken', { user_id: userId, claims, authentication_method: method }, { tx }),
    );
    if (!('claims' in output)) throw errors.hookFailed('output claims field is missing');
    if (!isObject(output.claims)) throw errors.hookFailed('Error unmarshaling JSON output.');
    const problems = claimsProblems(output.claims);
    if (problems.length > 0)
      throw errors.hookFailed(
        `output claims do not conform to the expected schema: \n${problems.map((p) => `- ${p}\n`).join('')}`,
      );
    return output.claims;
  };
}
