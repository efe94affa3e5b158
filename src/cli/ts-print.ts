/**
 * A small printer of TypeScript type literals, laid out as Prettier lays out the Supabase CLI's
 * generated types (two-space indent, no semicolons, double quotes, unions broken with a leading
 * `|` once they pass 80 columns), so the output reads like the CLI's and diffs stay small. Pure.
 */

export type TsType = string | TsObject | TsUnion | TsIntersection;

export interface TsMember {
  readonly key: string;
  readonly optional?: boolean;
  readonly type: TsType;
  /** The key is written as it is (`[_ in never]`, a mapped type), not as a property name. */
  readonly raw?: boolean;
}

export interface TsObject {
  readonly kind: 'object';
  readonly members: readonly TsMember[];
  /** Printed on one line when it fits and its members do (the CLI writes arguments and signatures so). */
  readonly inline?: boolean;
  /** `{ … }[]` */
  readonly array?: boolean;
}

export interface TsUnion {
  readonly kind: 'union';
  readonly items: readonly TsType[];
}

export interface TsIntersection {
  readonly kind: 'intersection';
  readonly items: readonly TsType[];
}

const WIDTH = 80;

export const object = (
  members: readonly TsMember[],
  options: { inline?: boolean; array?: boolean } = {},
): TsObject => ({
  kind: 'object',
  members,
  ...options,
});

export const union = (items: readonly TsType[]): TsType =>
  items.length === 1 && items[0] !== undefined ? items[0] : { kind: 'union', items };

export const intersection = (items: readonly TsType[]): TsType => ({ kind: 'intersection', items });

/** A property name as TypeScript needs it: bare when it is an identifier, quoted otherwise. */
export function propertyKey(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name);
}

export const literal = (value: string): string => JSON.stringify(value);

const pad = (indent: number): string => ' '.repeat(indent);

/** The one-line form, or undefined when the type has no one-line form (an expanded object). */
function inlineText(type: TsType): string | undefined {
  if (typeof type === 'string') return type.includes('\n') ? undefined : type;
  if (type.kind === 'union' || type.kind === 'intersection') {
    const parts = type.items.map(inlineText);
    return parts.every((p) => p !== undefined) ? parts.join(type.kind === 'union' ? ' | ' : ' & ') : undefined;
  }
  if (!type.inline) return undefined;
  if (type.members.length === 0) return type.array ? '{}[]' : '{}';
  const parts = type.members.map((m) => {
    const value = inlineText(m.type);
    return value === undefined ? undefined : `${memberKey(m)}${m.optional ? '?' : ''}: ${value}`;
  });
  if (parts.some((p) => p === undefined)) return undefined;
  return `{ ${parts.join('; ')} }${type.array ? '[]' : ''}`;
}

/** An object's expanded form; its closing brace at `indent`, its members two further in. */
export function printObject(type: TsObject, indent: number): string {
  const close = `}${type.array ? '[]' : ''}`;
  if (type.members.length === 0) return `{${close}`;
  return `{\n${type.members.map((m) => printMember(m, indent + 2)).join('\n')}\n${pad(indent)}${close}`;
}

/** A type where it follows `prefix` on a line at `indent`. */
function printType(type: TsType, indent: number, prefix: string): string {
  const inline = inlineText(type);
  if (inline !== undefined && indent + prefix.length + inline.length <= WIDTH) return inline;
  if (typeof type === 'string') return type;
  if (type.kind === 'object') return printObject(type, indent);
  // An object with `& "…"` or `| null` after it: the object laid out, the rest after its brace.
  const [first, ...rest] = type.items;
  if (
    first !== undefined &&
    typeof first !== 'string' &&
    first.kind === 'object' &&
    rest.every((r) => typeof r === 'string')
  ) {
    if (type.kind === 'intersection' || (rest.length === 1 && rest[0] === 'null'))
      return [printObject(first, indent), ...rest].join(type.kind === 'union' ? ' | ' : ' & ');
  }
  if (type.kind === 'intersection') return type.items.map((item) => printType(item, indent, '')).join(' & ');
  // A long union: each item on a line of its own after a leading `|`.
  return type.items.map((item) => `\n${pad(indent + 2)}| ${printType(item, indent + 4, '')}`).join('');
}

const memberKey = (member: TsMember): string => (member.raw ? member.key : propertyKey(member.key));

export function printMember(member: TsMember, indent: number): string {
  const prefix = `${memberKey(member)}${member.optional ? '?' : ''}:`;
  const text = printType(member.type, indent, `${prefix} `);
  return `${pad(indent)}${prefix}${text.startsWith('\n') ? '' : ' '}${text}`;
}

/** An array literal of strings (the Constants), one line when it fits, else one item per line. */
export function printStringArray(items: readonly string[], indent: number, prefix: string): string {
  const line = `[${items.map(literal).join(', ')}]`;
  if (indent + prefix.length + line.length + 1 <= WIDTH) return line;
  return `[\n${items.map((item) => `${pad(indent + 2)}${literal(item)},`).join('\n')}\n${pad(indent)}]`;
}
