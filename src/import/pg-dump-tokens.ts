/**
 * Tokens of a statement, enough to name what it does and to what: words (lowercased), quoted
 * identifiers (as written), string literals, and single punctuation characters. Comments and
 * whitespace are dropped. Only the classifier uses it; it never rebuilds SQL from tokens.
 */

export type Token =
  | { readonly type: 'word'; readonly value: string; readonly start: number; readonly end: number }
  | { readonly type: 'quoted'; readonly value: string; readonly start: number; readonly end: number }
  | { readonly type: 'string'; readonly value: string; readonly start: number; readonly end: number }
  | { readonly type: 'punct'; readonly value: string; readonly start: number; readonly end: number }
  | { readonly type: 'other'; readonly value: string; readonly start: number; readonly end: number };

/** The first `limit` tokens of `text` (all of them when `limit` is undefined). */
export function tokenize(text: string, limit = Infinity): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = text.length;
  while (i < n && tokens.length < limit) {
    const c = text[i] ?? '';
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && text[i + 1] === '-') {
      const eol = text.indexOf('\n', i);
      i = eol === -1 ? n : eol + 1;
    } else if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      i = close === -1 ? n : close + 2;
    } else if (c === '"') {
      let j = i + 1;
      let value = '';
      while (j < n) {
        if (text[j] === '"' && text[j + 1] === '"') {
          value += '"';
          j += 2;
        } else if (text[j] === '"') break;
        else value += text[j++];
      }
      tokens.push({ type: 'quoted', value, start: i, end: j + 1 });
      i = j + 1;
    } else if (c === "'") {
      let j = i + 1;
      let value = '';
      while (j < n) {
        if (text[j] === "'" && text[j + 1] === "'") {
          value += "'";
          j += 2;
        } else if (text[j] === "'") break;
        else value += text[j++];
      }
      tokens.push({ type: 'string', value, start: i, end: j + 1 });
      i = j + 1;
    } else if (c === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z_0-9]*)?\$/.exec(text.slice(i, i + 64));
      if (tag) {
        const close = text.indexOf(tag[0], i + tag[0].length);
        const end = close === -1 ? n : close + tag[0].length;
        tokens.push({ type: 'other', value: text.slice(i, end), start: i, end });
        i = end;
      } else {
        tokens.push({ type: 'other', value: c, start: i, end: i + 1 });
        i++;
      }
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      const m = /^[A-Za-z_\u0080-\uffff][A-Za-z_0-9$\u0080-\uffff]*/.exec(text.slice(i, i + 256));
      const word = m?.[0] ?? c;
      tokens.push({ type: 'word', value: word.toLowerCase(), start: i, end: i + word.length });
      i += word.length;
    } else if ('.,();=[]'.includes(c)) {
      tokens.push({ type: 'punct', value: c, start: i, end: i + 1 });
      i++;
    } else {
      const m = /^[^\s"'$A-Za-z_.,();=[\]]+/.exec(text.slice(i, i + 64));
      const other = m?.[0] ?? c;
      tokens.push({ type: 'other', value: other, start: i, end: i + other.length });
      i += other.length;
    }
  }
  return tokens;
}

/** A possibly schema-qualified name at `at`: its parts and the index after it. */
export function nameAt(tokens: readonly Token[], at: number): { parts: string[]; next: number } | undefined {
  const parts: string[] = [];
  let i = at;
  for (;;) {
    const t = tokens[i];
    if (!t || (t.type !== 'word' && t.type !== 'quoted')) return parts.length > 0 ? { parts, next: i } : undefined;
    parts.push(t.value);
    i++;
    if (tokens[i]?.type === 'punct' && tokens[i]?.value === '.') i++;
    else return { parts, next: i };
  }
}

/** The index of the first word `value` at parenthesis depth 0 from `from`, or -1. */
export function findWord(tokens: readonly Token[], value: string, from = 0): number {
  let depth = 0;
  for (let i = from; i < tokens.length; i++) {
    const t = tokens[i];
    if (!t) continue;
    if (t.type === 'punct' && t.value === '(') depth++;
    else if (t.type === 'punct' && t.value === ')') depth--;
    else if (depth === 0 && t.type === 'word' && t.value === value) return i;
  }
  return -1;
}

export function isWord(token: Token | undefined, ...values: string[]): boolean {
  return token?.type === 'word' && values.includes(token.value);
}
