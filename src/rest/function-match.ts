/**
 * Which function a call names (PostgREST's findProc): the overload whose parameters the argument
 * names fit, or the one taking a single unnamed json/jsonb body; otherwise PGRST202 or PGRST203
 * with PostgREST's message, details and hint. Pure.
 */
import { ApiError } from '../errors.js';
import { closestMatch } from './fuzzy.js';
import type { DbFunction, SchemaCache } from './schema.js';

/** Every required parameter named, and nothing named the function does not take. */
function fits(fn: DbFunction, given: ReadonlySet<string>): boolean {
  if (fn.args.length === 0) return given.size === 0;
  const names = new Set(fn.args.map((a) => a.name));
  return [...given].every((g) => names.has(g)) && fn.args.every((a) => a.hasDefault || given.has(a.name));
}

const takesJsonBody = (fn: DbFunction) =>
  fn.args.length === 1 && fn.args[0]?.name === '' && /^jsonb?$/.test(fn.args[0]?.type ?? '');

/** PostgREST's order of overloads: fewest parameters first, then by the parameters' names and types. */
function byParameters(a: DbFunction, b: DbFunction): number {
  if (a.args.length !== b.args.length) return a.args.length - b.args.length;
  const key = (f: DbFunction) => f.args.map((x) => `${x.name}\u0000${x.type}`).join('\u0001');
  const [x, y] = [key(a), key(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

/** `given`: the argument names (a POST body's keys, a GET's parameters named like an argument). */
export function pickFunction(
  cache: SchemaCache,
  schema: string,
  name: string,
  given: readonly string[],
  post = true,
): DbFunction {
  const overloads = cache.functions(schema, name);
  const keys = new Set(given);
  const matching = overloads.filter((f) => fits(f, keys));
  // A single unnamed json/jsonb parameter takes the whole body (Prefer: params=single-object).
  const found = matching.length ? matching : post ? overloads.filter(takesJsonBody) : [];
  if (found.length === 1) return found[0] as DbFunction;
  if (found.length > 1) {
    const candidates = [...found]
      .sort(byParameters)
      .map((f) => `${schema}.${name}(${f.args.map((a) => `${a.name} => ${a.type}`).join(', ')})`);
    throw new ApiError(
      300,
      'PGRST203',
      `Could not choose the best candidate function between: ${candidates.join(', ')}`,
      {
        details: null,
        hint: 'Try renaming the parameters or the function itself in the database so function overloading can be resolved',
      },
    );
  }
  throw notFound(cache, schema, name, [...keys].sort(), overloads, post);
}

function notFound(
  cache: SchemaCache,
  schema: string,
  name: string,
  keys: readonly string[],
  overloads: readonly DbFunction[],
  post: boolean,
): ApiError {
  const fn = `${schema}.${name}`;
  const withParams = keys.length
    ? ` with parameter${keys.length > 1 ? 's' : ''} ${keys.join(', ')}`
    : ' without parameters';
  const searched = `${withParams}${post ? ' or with a single unnamed json/jsonb parameter' : ''}`;
  return new ApiError(
    404,
    'PGRST202',
    `Could not find the function ${fn}${keys.length ? `(${keys.join(', ')})` : ' without parameters'} in the schema cache`,
    {
      details: `Searched for the function ${fn}${searched}, but no matches were found in the schema cache.`,
      hint: perhaps(cache, schema, name, keys, overloads),
    },
  );
}

/**
 * A function of another name when none has this one (a close name only); else the parameter list of
 * the overload nearest the names given (any likeness: parameter names are no secret).
 */
function perhaps(
  cache: SchemaCache,
  schema: string,
  name: string,
  keys: readonly string[],
  overloads: readonly DbFunction[],
): string | null {
  const list = (names: readonly string[]) => `(${[...names].sort().join(', ')})`;
  const guess =
    overloads.length === 0
      ? closestMatch(cache.functionNames?.(schema) ?? [], name, 0.75)
      : closestMatch(
          overloads.map((f) => list(f.args.map((a) => a.name))),
          list(keys),
          0.33,
        );
  if (guess === undefined) return null;
  return `Perhaps you meant to call the function ${schema}.${overloads.length === 0 ? guess : `${name}${guess}`}`;
}
