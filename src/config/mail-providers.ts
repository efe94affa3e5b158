/**
 * MAIL_PROVIDERS (and config.toml's `[[mail.providers]]`, which becomes it): the mail providers in
 * priority order, as a JSON array of objects with config.toml's snake_case keys. Pure, so every
 * accepted and refused form is pinned down by a table.
 */

export const MAIL_PROVIDER_KINDS = ['smtp', 'resend', 'sendgrid', 'mailgun', 'postmark', 'brevo'] as const;
export type MailProviderKind = (typeof MAIL_PROVIDER_KINDS)[number];

export interface MailProviderConfig {
  /** Unique; names the provider in quotas, health, mail_log and metrics (default: its kind; kind-N for a repeat). */
  readonly name: string;
  readonly kind: MailProviderKind;
  /** Lower first; equal ones keep their order. */
  readonly priority: number;
  /** smtp: the server's smtp(s):// URL; the HTTP kinds: the API's base URL (an EU region, a test). */
  readonly url: string | undefined;
  readonly apiKey: string | undefined;
  /** mailgun: the sending domain (POST /v3/<domain>/messages). */
  readonly domain: string | undefined;
  /** The From address through this provider (default SMTP_FROM). */
  readonly from: string | undefined;
  /** Mails per UTC day / calendar month (UTC); undefined: no limit. */
  readonly dailyQuota: number | undefined;
  readonly monthlyQuota: number | undefined;
}

export type MailProvidersParse =
  | { readonly ok: true; readonly value: readonly MailProviderConfig[] }
  | { readonly ok: false; readonly problem: string };

const KEYS = ['name', 'kind', 'priority', 'url', 'api_key', 'domain', 'from', 'daily_quota', 'monthly_quota'];
const NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;

export function parseMailProviders(text: string): MailProvidersParse {
  if (text.trim() === '') return { ok: true, value: [] };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'must be a JSON array of providers such as [{"kind":"resend","api_key":"re_…"}]' };
  }
  if (!Array.isArray(doc)) return { ok: false, problem: 'must be a JSON array of providers' };
  const out: MailProviderConfig[] = [];
  for (const [i, entry] of doc.entries()) {
    const parsed = parseOne(entry, i, (kind) => (out.some((p) => p.name === kind) ? `${kind}-${i + 1}` : kind));
    if (typeof parsed === 'string') return { ok: false, problem: `provider ${i + 1}: ${parsed}` };
    if (out.some((p) => p.name === parsed.name))
      return {
        ok: false,
        problem: `provider ${i + 1}: the name ${JSON.stringify(parsed.name)} is taken; give it a name`,
      };
    out.push(parsed);
  }
  // A stable sort: equal priorities keep the written order.
  return { ok: true, value: out.sort((a, b) => a.priority - b.priority) };
}

function parseOne(entry: unknown, index: number, defaultName: (kind: string) => string): MailProviderConfig | string {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return 'must be an object';
  const e = entry as Record<string, unknown>;
  const unknownKey = Object.keys(e).find((k) => !KEYS.includes(k));
  if (unknownKey) return `unknown key ${JSON.stringify(unknownKey)} (keys: ${KEYS.join(', ')})`;
  const kind = e.kind;
  if (typeof kind !== 'string' || !(MAIL_PROVIDER_KINDS as readonly string[]).includes(kind))
    return `kind must be one of ${MAIL_PROVIDER_KINDS.join(', ')}`;
  const str = (key: string): string | undefined | Error => {
    const v = e[key];
    if (v === undefined) return undefined;
    return typeof v === 'string' && v !== '' ? v : new Error(`${key} must be a non-empty string`);
  };
  const count = (key: string): number | undefined | Error => {
    const v = e[key];
    if (v === undefined) return undefined;
    return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1e9
      ? v
      : new Error(`${key} must be a whole number from 0`);
  };
  const name = str('name');
  const url = str('url');
  const apiKey = str('api_key');
  const domain = str('domain');
  const from = str('from');
  const priority = count('priority');
  const dailyQuota = count('daily_quota');
  const monthlyQuota = count('monthly_quota');
  for (const v of [name, url, apiKey, domain, from, priority, dailyQuota, monthlyQuota])
    if (v instanceof Error) return v.message;
  const k = kind as MailProviderKind;
  const checked = {
    name: (name as string | undefined) ?? defaultName(k),
    url: url as string | undefined,
    apiKey: apiKey as string | undefined,
    domain: domain as string | undefined,
  };
  if (!NAME.test(checked.name))
    return 'name must be 1 to 40 lower-case letters, digits, _ or - (first a letter or digit)';
  if (k === 'smtp') {
    if (!checked.url || !/^smtps?:\/\//.test(checked.url))
      return 'an smtp provider needs url = "smtp://…" or "smtps://…"';
  } else {
    if (!checked.apiKey) return `a ${k} provider needs api_key`;
    if (checked.url !== undefined && !/^https?:\/\/[^/]/.test(checked.url)) return 'url must be an http(s):// base URL';
    if (k === 'mailgun' && !checked.domain) return 'a mailgun provider needs domain (the sending domain)';
  }
  return {
    ...checked,
    kind: k,
    priority: (priority as number | undefined) ?? index,
    from: from as string | undefined,
    dailyQuota: dailyQuota as number | undefined,
    monthlyQuota: monthlyQuota as number | undefined,
  };
}
