/**
 * Running a project's SQL file (a migration or the seed): statement by statement inside one
 * transaction that Trellis opens, so a failure names its file and line and leaves nothing behind.
 */
import type pg from 'pg';
import { FatalError, errorMessage } from '../errors.js';
import { lineAt, type SqlStatement } from './split-sql.js';

/** What the file is, for messages: "migration" or "seed". */
export type SqlFileKind = 'migration' | 'seed';

/** The file line of an error: the statement's first line plus PostgreSQL's position inside it. */
export function errorLine(statement: SqlStatement, err: unknown): number {
  const position = Number((err as { position?: string }).position);
  if (!Number.isInteger(position) || position <= 0) return statement.line;
  // PostgreSQL counts characters; JavaScript strings count UTF-16 units.
  const prefix = Array.from(statement.text)
    .slice(0, position - 1)
    .join('');
  return statement.line + lineAt(prefix, prefix.length) - 1;
}

const TRANSACTION_CONTROL =
  /^(begin|start\s+transaction|commit|end|abort|rollback(?!\s+to\b)|prepare\s+transaction)\b/i;
const OPENING = /^(begin|start\s+transaction)\b/i;
const CLOSING = /^(commit|end)\b/i;

/**
 * Each file runs in one transaction that Trellis opens and commits. A file wrapped in BEGIN …
 * COMMIT (as many are) keeps working; transaction control anywhere else would commit or roll back
 * part of the file behind Trellis's back, so it is refused with its line.
 */
export function withoutTransactionWrapper(statements: SqlStatement[], file: string, kind: SqlFileKind): SqlStatement[] {
  let body = statements;
  if (body.length > 0 && OPENING.test(body[0]?.text ?? '')) body = body.slice(1);
  if (body.length > 0 && CLOSING.test(body.at(-1)?.text ?? '')) body = body.slice(0, -1);
  const control = body.find((s) => TRANSACTION_CONTROL.test(s.text));
  if (control) {
    const word = control.text.split(/\s+/)[0]?.toUpperCase();
    throw new FatalError(
      `${kind} ${file} line ${control.line}: ${word} is not allowed inside a ${kind} (each file runs in one transaction)`,
    );
  }
  return body;
}

/** Runs the statements in order on a client already inside a transaction; an error names file and line. */
export async function runStatements(
  client: pg.PoolClient,
  statements: readonly SqlStatement[],
  file: string,
  kind: SqlFileKind,
): Promise<void> {
  for (const statement of statements) {
    try {
      await client.query(statement.text);
    } catch (err) {
      // A cancel (a signal during the start) is not the file's fault: it travels on as it is.
      if ((err as { code?: string }).code === '57014' && !(err as Error).message.includes('statement timeout'))
        throw err;
      throw new FatalError(`${kind} ${file} failed at line ${errorLine(statement, err)}: ${errorMessage(err)}`);
    }
  }
}

export async function inTransaction(client: pg.PoolClient, fn: () => Promise<void>): Promise<void> {
  await client.query('begin');
  try {
    await fn();
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}
