/**
 * Supabase-style email templates: built-in defaults worded like a Supabase project's, overridable
 * per kind by `<templatesDir>/<kind>.html` (the Supabase CLI's `supabase/templates/` folder), with
 * Go-template variables (`{{ .ConfirmationURL }}`) as Supabase's own templates use. Pure apart from
 * reading the override files once.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { FatalError, errorMessage } from '../../errors.js';
import { JsonNumber, stringifyJson } from '../json.js';

export const MAIL_KINDS = [
  'confirmation',
  'recovery',
  'magic_link',
  'email_change',
  'invite',
  'reauthentication',
] as const;
export type MailKind = (typeof MAIL_KINDS)[number];

export interface Template {
  readonly subject: string;
  readonly html: string;
  /** Where it came from: 'built-in' or the override file's path (named in errors). */
  readonly source: string;
}

export type Templates = Readonly<Record<MailKind, Template>>;

/** The variables Supabase offers its templates; one that is not given renders empty. */
export interface TemplateVars {
  readonly ConfirmationURL?: string;
  readonly Token?: string;
  readonly TokenHash?: string;
  readonly SiteURL?: string;
  readonly Email?: string;
  readonly NewEmail?: string;
  readonly RedirectTo?: string;
  /** The user's metadata, reached as `{{ .Data.key }}`. */
  readonly Data?: Readonly<Record<string, unknown>>;
}

export interface RenderedMail {
  readonly subject: string;
  readonly html: string;
  readonly text: string;
}

// Wording of a Supabase project's default templates (Dashboard → Authentication → Email Templates),
// with the 6-digit code GoTrue's own defaults add, so every flow also works by code.
const builtIn = (subject: string, html: string): Template => ({ subject, html, source: 'built-in' });
export const DEFAULT_TEMPLATES: Templates = Object.freeze({
  confirmation: builtIn(
    'Confirm Your Signup',
    '<h2>Confirm your signup</h2>\n<p>Follow this link to confirm your user:</p>\n<p><a href="{{ .ConfirmationURL }}">Confirm your mail</a></p>\n<p>Alternatively, enter the code: {{ .Token }}</p>\n',
  ),
  recovery: builtIn(
    'Reset Your Password',
    '<h2>Reset Password</h2>\n<p>Follow this link to reset the password for your user:</p>\n<p><a href="{{ .ConfirmationURL }}">Reset Password</a></p>\n<p>Alternatively, enter the code: {{ .Token }}</p>\n',
  ),
  magic_link: builtIn(
    'Your Magic Link',
    '<h2>Magic Link</h2>\n<p>Follow this link to login:</p>\n<p><a href="{{ .ConfirmationURL }}">Log In</a></p>\n<p>Alternatively, enter the code: {{ .Token }}</p>\n',
  ),
  email_change: builtIn(
    'Confirm Email Change',
    '<h2>Confirm Change of Email</h2>\n<p>Follow this link to confirm the update of your email from {{ .Email }} to {{ .NewEmail }}:</p>\n<p><a href="{{ .ConfirmationURL }}">Change Email</a></p>\n<p>Alternatively, enter the code: {{ .Token }}</p>\n',
  ),
  invite: builtIn(
    'You have been invited',
    '<h2>You have been invited</h2>\n<p>You have been invited to create a user on {{ .SiteURL }}. Follow this link to accept the invite:</p>\n<p><a href="{{ .ConfirmationURL }}">Accept the invite</a></p>\n<p>Alternatively, enter the code: {{ .Token }}</p>\n',
  ),
  reauthentication: builtIn(
    'Confirm reauthentication',
    '<h2>Confirm reauthentication</h2>\n<p>Enter the code: {{ .Token }}</p>\n',
  ),
});

const ACTION = /\{\{-?\s*(.*?)\s*-?\}\}/gs;
const VARIABLE = /^(\.[A-Za-z_][A-Za-z0-9_]*)+$/;
const SUBJECT_LINE = /^\s*<!--\s*subject:\s*(.*?)\s*-->[ \t]*\r?\n?/i;

/** The built-in templates with the project's override files in place; reads each file once. */
export async function loadTemplates(templatesDir: string): Promise<Templates> {
  const entries = await Promise.all(
    MAIL_KINDS.map(async (kind) => [kind, await loadOverride(templatesDir, kind)] as const),
  );
  return Object.freeze(Object.fromEntries(entries) as Record<MailKind, Template>);
}

async function loadOverride(templatesDir: string, kind: MailKind): Promise<Template> {
  const file = path.join(templatesDir, `${kind}.html`);
  let source: string;
  try {
    source = await fs.readFile(file, 'utf8');
  } catch (err) {
    // No folder or no file for this kind: the built-in one. ENOTDIR: the "folder" is a file.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return DEFAULT_TEMPLATES[kind];
    throw new FatalError(`cannot read email template ${file}: ${errorMessage(err)}`);
  }
  return parseTemplate(source, file, DEFAULT_TEMPLATES[kind].subject);
}

/**
 * A template file's text: an optional first line `<!-- subject: … -->`, then the HTML. Refused
 * (FatalError naming the file and line) when it uses more than `{{ .Variable }}`.
 */
export function parseTemplate(source: string, file: string, defaultSubject: string): Template {
  const subjectLine = SUBJECT_LINE.exec(source);
  const subject = subjectLine?.[1] ?? defaultSubject;
  const html = subjectLine ? source.slice(subjectLine[0].length) : source;
  checkActions(subject, file, () => 'in its subject');
  checkActions(html, file, (offset) => `at line ${lineOf(source, source.length - html.length + offset)}`);
  return { subject, html, source: file };
}

/**
 * Only `{{ .Variable }}` is supported, not Go's `if`/`range`/pipelines; a template using them is
 * refused at start rather than mailing users raw template syntax.
 */
function checkActions(text: string, file: string, where: (offset: number) => string): void {
  for (const match of text.matchAll(ACTION)) {
    if (VARIABLE.test(match[1] ?? '')) continue;
    throw new FatalError(
      `email template ${file} ${where(match.index)}: "${match[0]}" is not supported; only variables like {{ .ConfirmationURL }} are`,
    );
  }
}

function lineOf(text: string, offset: number): number {
  return text.slice(0, offset).split('\n').length;
}

export function render(templates: Templates, kind: MailKind, vars: TemplateVars): RenderedMail {
  return renderTemplate(templates[kind], vars);
}

/** Any template with any variables (app email's data): values HTML-escaped in the body, one line in the subject. */
export function renderTemplate(template: Pick<Template, 'subject' | 'html'>, vars: object): RenderedMail {
  const html = substitute(template.html, vars, escapeHtml);
  // Headers cannot hold line breaks; a newline in metadata must not split the subject.
  const subject = substitute(template.subject, vars, (s) => s)
    .replace(/\s+/g, ' ')
    .trim();
  return { subject, html, text: htmlToText(html) };
}

function substitute(template: string, vars: object, escape: (s: string) => string): string {
  return template.replace(ACTION, (_, action: string) => {
    if (!VARIABLE.test(action)) return '';
    return escape(stringify(lookup(vars, action.slice(1).split('.'))));
  });
}

function lookup(value: unknown, keys: readonly string[]): unknown {
  let current = value;
  for (const key of keys) {
    if (
      current === null ||
      typeof current !== 'object' ||
      current instanceof JsonNumber ||
      !Object.hasOwn(current, key)
    )
      return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function stringify(value: unknown): string {
  if (value === undefined || value === null) return '';
  // A number kept as the user wrote it (platform/json.ts) reads as written: 1.50, not 1.5.
  if (value instanceof JsonNumber) return value.text;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  // Objects and arrays (the metadata is JSON: nothing else reaches here).
  return stringifyJson(value);
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/** The plain-text part: tags dropped, block ends as line breaks, each link's URL kept beside its label. */
export function htmlToText(html: string): string {
  const text = html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(style|script|head|title)\b[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<a\b[^>]*?\bhref\s*=\s*(["'])(.*?)\1[^>]*>([\s\S]*?)<\/a\s*>/gi, (_, _q, href: string, label: string) => {
      const shown = label.replace(/<[^>]*>/g, '').trim();
      return shown === '' || decodeEntities(shown) === decodeEntities(href) ? href : `${shown}: ${href}`;
    })
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|h[1-6]|li|tr|table|ul|ol|blockquote)\s*>/gi, '\n\n')
    .replace(/<[^>]*>/g, '');
  return decodeEntities(text)
    .split('\n')
    .map((line) => line.replace(/[ \t\r]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
