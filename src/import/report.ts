/** The words an import prints: the plan (--dry-run), the decisions and warnings, the next steps. Pure. */
import type { LoadResult } from './load.js';
import type { ImportPlan, Note } from './sqlite-schema.js';

const count = (n: number, one: string, many = `${one}s`): string =>
  `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

/** Every statement the import would run, table by table, with the decisions behind them. */
export function renderPlan(plan: ImportPlan, source: string): string {
  const lines = [`-- Import plan: ${count(plan.tables.length, 'table')} from ${source} into schema ${plan.schema}`, ''];
  for (const t of plan.tables) {
    lines.push(`-- ${t.name}: ${count(t.rowCount, 'row')}`);
    for (const n of notesOf(plan.notes, t.name)) lines.push(`--   ${n.level === 'warn' ? '! ' : ''}${n.message}`);
    if (t.users)
      lines.push(
        `--   ${count(t.rowCount, 'user')} into auth.users (email lowercased and trimmed, ${t.users.passwordColumn} as encrypted_password, email confirmed, ids ${t.users.mode === 'uuid' ? `kept from "${t.users.idColumn}"` : `new UUIDs in "${t.users.linkColumn ?? ''}"`}) and auth.identities`,
      );
    lines.push(`${t.create};`, `-- rows by COPY`);
    for (const sql of [...t.required, ...t.optional.map((s) => s.sql), ...t.security]) lines.push(`${sql};`);
    lines.push('');
  }
  const fks = plan.tables.flatMap((t) => t.foreignKeys);
  if (fks.length > 0)
    lines.push('-- foreign keys, once every table holds its rows', ...fks.map((f) => `${f.sql};`), '');
  const general = plan.notes.filter((n) => !plan.tables.some((t) => t.name === n.table));
  if (general.length > 0)
    lines.push('-- not imported', ...general.map((n) => `--   ${n.table ? `${n.table}: ` : ''}${n.message}`), '');
  return lines.join('\n');
}

/** After a successful import: what happened, what to look at, what to write next. */
export function renderResult(plan: ImportPlan, result: LoadResult): string {
  const lines: string[] = [];
  const rows = result.tables.reduce((sum, t) => sum + t.rows, 0);
  lines.push(
    `Imported ${count(result.tables.length, 'table')} (${count(rows, 'row')}) into schema ${plan.schema}${result.users > 0 ? `, and ${count(result.users, 'user')} into auth.users (emails marked confirmed)` : ''}.`,
  );
  const notes = [...plan.notes, ...result.notes];
  const warnings = notes.filter((n) => n.level === 'warn');
  const decisions = notes.filter((n) => n.level === 'info');
  if (decisions.length > 0)
    lines.push(
      '',
      'Decisions:',
      ...decisions.map((n) => `  ${n.table ?? ''}${n.message.startsWith('"') ? '.' : ': '}${n.message}`),
    );
  if (warnings.length > 0) lines.push('', 'Warnings:', ...warnings.map((n) => `  ! ${n.table ?? ''}: ${n.message}`));
  lines.push(
    '',
    'Next steps: every imported table has row level security on and no policy, so the anon and',
    'authenticated keys read nothing yet (the service role key reads everything). Write the policies',
    'your app needs in a migration (supabase/migrations/<timestamp>_policies.sql), for example:',
    ...plan.tables.map((t) => `  ${t.policyHint}`),
  );
  return `${lines.join('\n')}\n`;
}

function notesOf(notes: readonly Note[], table: string): Note[] {
  return notes.filter((n) => n.table === table);
}
