/**
 * Which function a request names: the first segment after /functions/v1, percent-decoded, and
 * the rest of the path, which the function sees after its own name (`/hello/users/1`), as
 * Supabase's edge runtime gives it.
 */

/** The Supabase CLI's function name rule (pkg/function: `^[A-Za-z][A-Za-z0-9_-]*$`). */
const FUNCTION_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

export type FunctionPath =
  | { readonly ok: true; readonly name: string; readonly rest: string }
  | { readonly ok: false; readonly message: string };

/** `raw`: the request's path after /functions/v1, still percent-encoded (`/hello/a%20b`). */
export function parseFunctionPath(raw: string): FunctionPath {
  const trimmed = raw.startsWith('/') ? raw.slice(1) : raw;
  const slash = trimmed.indexOf('/');
  const segment = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const rest = slash === -1 ? '' : trimmed.slice(slash);
  if (segment === '') return { ok: false, message: 'No function name in the path: call /functions/v1/<name>' };
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    return { ok: false, message: 'The function name is not valid percent-encoding' };
  }
  const problem = nameProblem(name);
  return problem === undefined ? { ok: true, name, rest } : { ok: false, message: problem };
}

/** Why `name` cannot be a function's name, or undefined when it can. */
export function nameProblem(name: string): string | undefined {
  if (name.includes('\0')) return 'A function name cannot contain a NUL byte';
  if (name.includes('/') || name.includes('\\') || name === '.' || name === '..')
    return `"${name}" is not a function name: a name cannot hold a path`;
  if (name.length > 128) return 'A function name is at most 128 characters';
  if (!FUNCTION_NAME.test(name))
    return `"${name}" is not a function name: it must start with a letter and hold only letters, digits, "-" and "_"`;
  return undefined;
}
