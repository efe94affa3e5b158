/**
 * App email's templates: every `supabase/templates/<name>.html` (the Supabase CLI's folder, the
 * one auth's overrides come from), copied into trellis.mail_templates at each start so that SQL
 * refuses an unknown name at once and every instance renders the same text.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Db } from '../../db/index.js';
import { FatalError, errorMessage } from '../../errors.js';
import { parseTemplate } from '../../platform/mailer/templates.js';

export interface AppTemplate {
  readonly name: string;
  readonly subject: string;
  readonly html: string;
}

const TEMPLATE_FILE = /^([A-Za-z0-9_-]{1,64})\.html$/;

export async function loadAppTemplates(dir: string): Promise<AppTemplate[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw new FatalError(`cannot read the email templates in ${dir}: ${errorMessage(err)}`);
  }
  const out: AppTemplate[] = [];
  for (const file of names.sort()) {
    const name = TEMPLATE_FILE.exec(file)?.[1];
    if (!name) continue;
    const full = path.join(dir, file);
    const source = await fs.readFile(full, 'utf8');
    // No subject line: the name, as a subject of last resort ("welcome" → "welcome").
    const parsed = parseTemplate(source, full, name);
    out.push({ name, subject: parsed.subject, html: parsed.html });
  }
  return out;
}

/** The table holds exactly these templates afterwards (one transaction: no instance sees half). */
export async function syncAppTemplates(db: Db, templates: readonly AppTemplate[]): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('delete from trellis.mail_templates where not (name = any($1))', [templates.map((t) => t.name)]);
    for (const t of templates)
      await tx.query(
        `insert into trellis.mail_templates (name, subject, html) values ($1, $2, $3)
         on conflict (name) do update set subject = excluded.subject, html = excluded.html, updated_at = now()
          where mail_templates.subject <> excluded.subject or mail_templates.html <> excluded.html`,
        [t.name, t.subject, t.html],
      );
  });
}
