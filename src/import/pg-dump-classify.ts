/**
 * What a pg_dump statement is and what it touches: its kind ("CREATE TABLE", "GRANT", …), the
 * schema of the object, the roles it names, the table a COPY or INSERT fills. Pure: the decision
 * of what to do with it is in pg-dump-plan.ts.
 */
import { findWord, isWord, nameAt, tokenize, type Token } from './pg-dump-tokens.js';

export interface QualifiedName {
  readonly schema: string | undefined;
  readonly name: string;
}

export interface Classified {
  /** Upper-case leading keywords: "CREATE TABLE", "ALTER TABLE", "COPY", "SET", "GRANT", … */
  readonly kind: string;
  /** The object the statement creates or changes (for an index, trigger or policy: its table). */
  readonly target?: QualifiedName;
  /** `ALTER … OWNER TO r`. */
  readonly ownerTo?: string;
  /** Grantees, policy roles, `FOR ROLE` of default privileges, a schema's AUTHORIZATION. */
  readonly roles?: readonly string[];
  /** A trigger's or event trigger's function. */
  readonly function?: QualifiedName;
  /** COPY/INSERT column list. */
  readonly columns?: readonly string[];
  /** CREATE EXTENSION's `SCHEMA s`; SET's value. */
  readonly option?: string;
  /** ALTER PUBLICATION … ADD TABLE: the tables. */
  readonly tables?: readonly QualifiedName[];
  /** For GRANT/REVOKE: whether it is role membership (no ON clause). */
  readonly membership?: boolean;
}

const CREATE_MODIFIERS = new Set([
  'or',
  'replace',
  'unique',
  'unlogged',
  'temp',
  'temporary',
  'materialized',
  'recursive',
  'trusted',
  'procedural',
  'default',
  'constraint',
  'global',
  'local',
]);
const TWO_WORD_KINDS = new Set(['event', 'foreign', 'text', 'user', 'access', 'operator', 'default', 'row']);

export function classify(text: string): Classified {
  const tokens = tokenize(text, 400);
  const first = tokens[0]?.type === 'word' ? tokens[0].value : '';
  switch (first) {
    case 'create':
      return classifyCreate(tokens);
    case 'alter':
      return classifyAlter(tokens);
    case 'comment':
      return classifyComment(tokens);
    case 'grant':
    case 'revoke':
      return classifyGrant(tokens, first);
    case 'copy':
    case 'insert':
      return classifyLoad(tokens, first);
    case 'set': {
      const at = isWord(tokens[1], 'session', 'local') ? 2 : 1;
      const name = tokens[at]?.value ?? '';
      const value = tokens
        .slice(at + 2)
        .map((t) => t.value)
        .join(' ');
      if (name === 'session' || name === 'role') return { kind: 'SET ROLE' };
      return { kind: 'SET', target: { schema: undefined, name }, option: value };
    }
    case 'select':
      return classifySelect(tokens);
    case 'drop':
      return classifyDrop(tokens);
    case 'security':
      return { kind: 'SECURITY LABEL' };
    case 'begin':
    case 'commit':
    case 'end':
    case 'start':
    case 'rollback':
      return { kind: 'TRANSACTION' };
    default:
      return { kind: first.toUpperCase() || 'UNKNOWN' };
  }
}

function classifyCreate(tokens: Token[]): Classified {
  let i = 1;
  while (isWord(tokens[i], ...CREATE_MODIFIERS)) i++;
  let kind = tokens[i]?.value ?? '';
  i++;
  if (TWO_WORD_KINDS.has(kind) && tokens[i]?.type === 'word') {
    kind = `${kind} ${tokens[i]?.value ?? ''}`;
    i++;
    if (kind === 'foreign data' || kind === 'text search' || kind === 'operator class' || kind === 'access method') {
      if (kind === 'foreign data')
        i++; // WRAPPER
      else if (kind === 'text search') {
        kind = `${kind} ${tokens[i]?.value ?? ''}`;
        i++;
      }
    }
  }
  const label = `CREATE ${kind.toUpperCase()}`;
  if (isWord(tokens[i], 'if')) i += 3; // IF NOT EXISTS
  if (kind === 'index') {
    if (isWord(tokens[i], 'concurrently')) i++;
    const on = findWord(tokens, 'on', i);
    return { kind: label, target: qualified(tokens, on + (isWord(tokens[on + 1], 'only') ? 2 : 1)) };
  }
  if (kind === 'trigger' || kind === 'policy' || kind === 'rule') {
    const on = findWord(tokens, kind === 'rule' ? 'to' : 'on', i + 1);
    const target = qualified(tokens, on + (isWord(tokens[on + 1], 'only') ? 2 : 1));
    const roles = kind === 'policy' ? policyRoles(tokens, on) : undefined;
    return { kind: label, target, function: kind === 'trigger' ? executedFunction(tokens) : undefined, roles };
  }
  if (kind === 'event trigger')
    return { kind: label, target: qualified(tokens, i), function: executedFunction(tokens) };
  if (kind === 'extension') {
    const at = findWord(tokens, 'schema', i);
    return { kind: label, target: qualified(tokens, i), option: at === -1 ? undefined : tokens[at + 1]?.value };
  }
  if (kind === 'schema') {
    const auth = findWord(tokens, 'authorization', i);
    const target = isWord(tokens[i], 'authorization') ? undefined : qualified(tokens, i);
    const role = auth === -1 ? undefined : tokens[auth + 1]?.value;
    const name = target?.name ?? role ?? '';
    return { kind: label, target: { schema: name, name }, roles: role === undefined ? undefined : [role] };
  }
  if (kind === 'user mapping') {
    const server = findWord(tokens, 'server', i);
    return { kind: label, target: qualified(tokens, server + 1) };
  }
  return { kind: label, target: qualified(tokens, i) };
}

/** `DROP <kind> [IF EXISTS] name [ON table]` (pg_dump --clean writes them first). */
function classifyDrop(tokens: Token[]): Classified {
  let i = 1;
  let kind = tokens[i]?.value ?? '';
  i++;
  if ((TWO_WORD_KINDS.has(kind) || kind === 'materialized') && tokens[i]?.type === 'word' && !isWord(tokens[i], 'if')) {
    kind = `${kind} ${tokens[i]?.value ?? ''}`;
    i++;
    if (kind === 'foreign data') i++;
  }
  if (isWord(tokens[i], 'if')) i += 2;
  const label = `DROP ${kind.toUpperCase()}`;
  if (kind === 'trigger' || kind === 'policy' || kind === 'rule') {
    const on = findWord(tokens, 'on', i + 1);
    return { kind: label, target: qualified(tokens, on + 1) };
  }
  const target = qualified(tokens, i);
  if (kind === 'schema') return { kind: label, target: target && { schema: target.name, name: target.name } };
  return { kind: label, target };
}

function classifyAlter(tokens: Token[]): Classified {
  let i = 1;
  let kind = tokens[i]?.value ?? '';
  i++;
  if ((TWO_WORD_KINDS.has(kind) || kind === 'materialized') && tokens[i]?.type === 'word') {
    kind = `${kind} ${tokens[i]?.value ?? ''}`;
    i++;
    if (kind === 'foreign data') i++;
    else if (kind === 'text search') {
      kind = `${kind} ${tokens[i]?.value ?? ''}`;
      i++;
    }
  }
  const label = `ALTER ${kind.toUpperCase()}`;
  if (kind === 'default privileges') return classifyDefaultPrivileges(tokens);
  if (isWord(tokens[i], 'if')) i += 2;
  if (isWord(tokens[i], 'only')) i++;
  const target = qualified(tokens, i);
  const owner = findWord(tokens, 'owner', i);
  const ownerTo = owner !== -1 && isWord(tokens[owner + 1], 'to') ? tokens[owner + 2]?.value : undefined;
  if (kind === 'publication') {
    const add = findWord(tokens, 'add', i);
    if (add !== -1 && isWord(tokens[add + 1], 'table'))
      return { kind: label, target, tables: nameList(tokens, add + 2) };
  }
  if (kind === 'schema') return { kind: label, target: target && { schema: target.name, name: target.name }, ownerTo };
  return { kind: label, target, ownerTo };
}

function classifyDefaultPrivileges(tokens: Token[]): Classified {
  const roles: string[] = [];
  const forAt = findWord(tokens, 'for');
  if (forAt !== -1) for (const n of nameList(tokens, forAt + 2)) roles.push(n.name);
  const inAt = findWord(tokens, 'in');
  const schema = inAt === -1 ? undefined : tokens[inAt + 2]?.value;
  const to = Math.max(findWord(tokens, 'to'), findWord(tokens, 'from'));
  if (to !== -1) for (const n of nameList(tokens, to + 1)) roles.push(n.name);
  return {
    kind: 'ALTER DEFAULT PRIVILEGES',
    target: schema === undefined ? undefined : { schema, name: schema },
    roles,
  };
}

function classifyComment(tokens: Token[]): Classified {
  // COMMENT ON <kind words> <name> IS '…'; for columns the name is schema.table.column.
  let i = 2;
  const words: string[] = [];
  while (tokens[i]?.type === 'word' && !isNameStart(tokens, i)) words.push(tokens[i++]?.value ?? '');
  const kind = words.join(' ');
  if (['constraint', 'policy', 'trigger', 'rule'].includes(kind)) {
    const on = findWord(tokens, 'on', i + 1);
    return { kind: `COMMENT ON ${kind.toUpperCase()}`, target: qualified(tokens, on + 1) };
  }
  const name = nameAt(tokens, i);
  const parts = name?.parts ?? [];
  if (kind === 'schema' || kind === 'extension' || kind === 'database' || kind === 'event trigger') {
    const n = parts[0] ?? '';
    return { kind: `COMMENT ON ${kind.toUpperCase()}`, target: { schema: kind === 'schema' ? n : undefined, name: n } };
  }
  if (kind === 'column') return { kind: 'COMMENT ON COLUMN', target: { schema: parts[0], name: parts[1] ?? '' } };
  return { kind: `COMMENT ON ${kind.toUpperCase()}`, target: toQualified(parts) };
}

/** `COMMENT ON INDEX i` — words until the name: stops at the word followed by IS or a dot. */
function isNameStart(tokens: Token[], i: number): boolean {
  const next = tokens[i + 1];
  return isWord(next, 'is') || (next?.type === 'punct' && (next.value === '.' || next.value === '('));
}

function classifyGrant(tokens: Token[], verb: string): Classified {
  const kind = verb.toUpperCase();
  const on = findWord(tokens, 'on');
  const toAt = findWord(tokens, verb === 'grant' ? 'to' : 'from', on === -1 ? 1 : on);
  const roles = toAt === -1 ? [] : nameList(tokens, toAt + 1).map((n) => n.name);
  if (on === -1) return { kind: `${kind} ROLE`, roles, membership: true };
  let i = on + 1;
  if (isWord(tokens[i], 'all') && isWord(tokens[i + 2], 'in')) {
    // ON ALL TABLES IN SCHEMA s
    return { kind, target: { schema: tokens[i + 4]?.value, name: '' }, roles };
  }
  const objectWords = ['table', 'sequence', 'function', 'procedure', 'routine', 'type', 'domain', 'language'];
  const words: string[] = [];
  while (
    isWord(tokens[i], ...objectWords, 'schema', 'database', 'foreign', 'data', 'wrapper', 'server', 'large', 'object')
  )
    words.push(tokens[i++]?.value ?? '');
  const what = words.join(' ');
  const name = qualified(tokens, i);
  if (what === 'schema') return { kind, target: name && { schema: name.name, name: name.name }, roles };
  if (what === 'database' || what === 'language' || what.startsWith('foreign') || what === 'large object')
    return { kind: `${kind} ON ${what.toUpperCase()}`, target: name && { schema: undefined, name: name.name }, roles };
  return { kind, target: name, roles };
}

function classifyLoad(tokens: Token[], verb: string): Classified {
  const at = verb === 'insert' ? 2 : 1;
  const target = qualified(tokens, at);
  const name = nameAt(tokens, at);
  const columns: string[] = [];
  let i = name?.next ?? at;
  if (tokens[i]?.type === 'punct' && tokens[i]?.value === '(') {
    for (i++; i < tokens.length; i++) {
      const t = tokens[i];
      if (!t || (t.type === 'punct' && t.value === ')')) break;
      if (t.type === 'word' || t.type === 'quoted') columns.push(t.value);
    }
  }
  return { kind: verb.toUpperCase(), target, columns };
}

function classifySelect(tokens: Token[]): Classified {
  const call = nameAt(tokens, 1);
  const fn = call?.parts.join('.') ?? '';
  if (fn === 'pg_catalog.setval' || fn === 'setval') {
    const arg = tokens[call?.next !== undefined ? call.next + 1 : 0];
    const parts = arg?.type === 'string' ? splitQualified(arg.value) : [];
    return { kind: 'SELECT SETVAL', target: toQualified(parts) };
  }
  if (fn === 'pg_catalog.set_config' || fn === 'set_config') return { kind: 'SELECT SET_CONFIG' };
  return { kind: 'SELECT', option: fn };
}

/** `'public.x_seq'` or `'"Public"."X"'` as setval's argument writes them. */
export function splitQualified(text: string): string[] {
  const name = nameAt(tokenize(text), 0);
  return name?.parts ?? [];
}

function qualified(tokens: Token[], at: number): QualifiedName | undefined {
  if (at < 0) return undefined;
  const name = nameAt(tokens, at);
  return name ? toQualified(name.parts) : undefined;
}

function toQualified(parts: readonly string[]): QualifiedName | undefined {
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return { schema: undefined, name: parts[0] ?? '' };
  return { schema: parts[parts.length - 2], name: parts[parts.length - 1] ?? '' };
}

function nameList(tokens: Token[], at: number): QualifiedName[] {
  const names: QualifiedName[] = [];
  let i = at;
  for (;;) {
    if (isWord(tokens[i], 'only', 'group')) i++;
    const name = nameAt(tokens, i);
    if (!name) return names;
    const q = toQualified(name.parts);
    if (q) names.push(q);
    i = name.next;
    if (tokens[i]?.type === 'punct' && tokens[i]?.value === '(') return names; // a column list follows
    if (tokens[i]?.type === 'punct' && tokens[i]?.value === ',') i++;
    else return names;
  }
}

function policyRoles(tokens: Token[], on: number): string[] | undefined {
  const to = findWord(tokens, 'to', on + 2);
  return to === -1 ? undefined : nameList(tokens, to + 1).map((n) => n.name);
}

function executedFunction(tokens: Token[]): QualifiedName | undefined {
  const at = findWord(tokens, 'execute');
  return at === -1 ? undefined : qualified(tokens, at + 2);
}
