/**
 * Extensions whose SQL surface Trellis provides itself, on any PostgreSQL (src/sql): a Supabase
 * project's `create extension pg_cron` (or pgmq, pg_net) would fail on a server without the real
 * one, and clash with Trellis's schema on a server with it, so such a statement is skipped with a
 * note. Pure.
 */

/** Each provided extension, and where its surface is described. */
export const PROVIDED_EXTENSIONS: Readonly<Record<string, string>> = {
  pg_cron: 'docs/cron.md',
  pgmq: 'docs/queues.md',
  pg_net: 'docs/webhooks.md',
};

const CREATE_EXTENSION = /^\s*create\s+extension\s+(?:if\s+not\s+exists\s+)?(?:"([^"]+)"|([a-z_][a-z0-9_$]*))/i;

/** The provided extension a `create extension` statement names, or undefined. */
export function providedExtension(statement: string): string | undefined {
  const match = CREATE_EXTENSION.exec(statement);
  const name = match?.[1] ?? match?.[2]?.toLowerCase();
  return name !== undefined && Object.hasOwn(PROVIDED_EXTENSIONS, name) ? name : undefined;
}

/** Why a statement creating `name` is skipped, for the log. */
export function providedNote(name: string): string {
  return `create extension ${name} skipped: Trellis provides its SQL surface itself (${PROVIDED_EXTENSIONS[name] ?? ''})`;
}
