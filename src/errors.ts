/**
 * Errors are values. `ApiError` is a client's bad request (or a known server condition) with the
 * HTTP status and the Supabase-shaped body for its endpoint family; `FatalError` ends a CLI command
 * with one line that names what is wrong and where. Anything else is a bug.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: {
      details?: string | null;
      hint?: string | null;
      /** Extra top-level fields of the body (e.g. GoTrue's `weak_password`). */
      fields?: Readonly<Record<string, unknown>>;
      headers?: Readonly<Record<string, string>>;
    } = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export class FatalError extends Error {
  /** `setting` names the flag or environment variable at fault, when one is. */
  constructor(
    message: string,
    readonly setting?: string,
  ) {
    super(message);
    this.name = 'FatalError';
  }
}

/** The one-line form a user sees for a FatalError. */
export function describeFatal(err: FatalError): string {
  return err.setting ? `${err.setting}: ${err.message}` : err.message;
}

/** A node-postgres/system error's message without its stack, for one-line reports. */
export function errorMessage(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return errorMessage(err.errors[0]);
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** A start interrupted by SIGTERM/SIGINT before it was ready: not a failure, the user asked. */
export class StartAborted extends Error {
  constructor(readonly signal: string) {
    super(`stopped by ${signal} before the server was ready`);
    this.name = 'StartAborted';
  }
}
