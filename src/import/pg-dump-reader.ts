/**
 * Reads a plain-format pg_dump line by line into statements, psql meta-commands and COPY data.
 * Streaming, so a dump of any size passes through in bounded memory (one statement at a time;
 * COPY rows are handed on one line each, never gathered). A lexer, not a parser: it knows only
 * what can hide a semicolon (quotes, dollar quotes, comments, BEGIN ATOMIC bodies), as
 * src/db/split-sql.ts does for migration files, which needs the whole file in one string and
 * knows nothing of COPY blocks or meta-commands.
 */

export type DumpItem =
  /** A SQL statement without its semicolon; `line` is where its first token is. */
  | { readonly kind: 'statement'; readonly text: string; readonly line: number }
  /** `\connect db`, `\restrict key`, … (psql meta-commands pg_dump writes on lines of their own). */
  | { readonly kind: 'meta'; readonly command: string; readonly argument: string; readonly line: number }
  /** `COPY … FROM stdin`: the data lines follow as `data` items until `copy-end`. */
  | { readonly kind: 'copy'; readonly text: string; readonly line: number }
  | { readonly kind: 'data'; readonly text: string; readonly line: number }
  | { readonly kind: 'copy-end'; readonly line: number };

type Mode = 'normal' | 'single' | 'single-escape' | 'double' | 'dollar' | 'block';

const COPY_FROM_STDIN = /^copy\s[\s\S]*\sfrom\s+stdin\b/i;
const DOLLAR_TAG = /\$([A-Za-z_\u0080-\uffff][A-Za-z_0-9\u0080-\uffff]*)?\$/y;
const WORD = /[A-Za-z_][A-Za-z_0-9$]*/y;

export class DumpReader {
  private mode: Mode = 'normal';
  private dollarTag = '';
  private blockDepth = 0;
  private atomicDepth = 0;
  private previousWord = '';
  private parts: string[] = [];
  private startLine = 0;
  private copying = false;
  private copyLine = 0;

  /** Whether the reader is inside a COPY block (the next lines are data up to `\.`). */
  get inCopy(): boolean {
    return this.copying;
  }

  /** The line the unfinished COPY block started on, for a truncated dump's message. */
  get copyStartLine(): number {
    return this.copyLine;
  }

  /** One line of the dump (without its line break) and its 1-based number. */
  feed(line: string, lineNo: number): DumpItem[] {
    if (this.copying) {
      if (line === '\\.') {
        this.copying = false;
        return [{ kind: 'copy-end', line: lineNo }];
      }
      return [{ kind: 'data', text: line, line: lineNo }];
    }
    if (this.parts.length === 0 && this.mode === 'normal' && line.startsWith('\\')) {
      const match = /^\\([A-Za-z!?]+)\s*(.*)$/.exec(line);
      return [{ kind: 'meta', command: match?.[1] ?? line.slice(1), argument: match?.[2]?.trim() ?? '', line: lineNo }];
    }
    const items: DumpItem[] = [];
    this.scan(line, lineNo, items);
    return items;
  }

  /** The end of the dump: a statement still open is returned (psql runs it too); `open` says what was unfinished. */
  end(): { items: DumpItem[]; open: 'copy' | 'quote' | 'comment' | undefined } {
    if (this.copying) return { items: [], open: 'copy' };
    const open = this.mode === 'block' ? 'comment' : this.mode === 'normal' ? undefined : 'quote';
    const items: DumpItem[] = [];
    const text = this.parts.join('\n').trimEnd();
    if (text !== '' && open === undefined) items.push({ kind: 'statement', text, line: this.startLine });
    this.parts = [];
    return { items, open };
  }

  private scan(line: string, lineNo: number, items: DumpItem[]): void {
    let i = 0;
    // Where the statement's text starts on this line (the first token, once one is seen).
    let from = this.parts.length > 0 ? 0 : -1;
    const n = line.length;
    while (i < n) {
      const c = line.charCodeAt(i);
      switch (this.mode) {
        case 'single': {
          const q = line.indexOf("'", i);
          if (q === -1) {
            i = n;
          } else if (line.charCodeAt(q + 1) === 39) {
            i = q + 2;
          } else {
            this.mode = 'normal';
            i = q + 1;
          }
          continue;
        }
        case 'single-escape': {
          if (c === 92) i += 2;
          else if (c === 39 && line.charCodeAt(i + 1) === 39) i += 2;
          else if (c === 39) {
            this.mode = 'normal';
            i++;
          } else i++;
          continue;
        }
        case 'double': {
          const q = line.indexOf('"', i);
          if (q === -1) i = n;
          else if (line.charCodeAt(q + 1) === 34) i = q + 2;
          else {
            this.mode = 'normal';
            i = q + 1;
          }
          continue;
        }
        case 'dollar': {
          const close = line.indexOf(this.dollarTag, i);
          if (close === -1) i = n;
          else {
            this.mode = 'normal';
            i = close + this.dollarTag.length;
          }
          continue;
        }
        case 'block': {
          if (c === 47 && line.charCodeAt(i + 1) === 42) {
            this.blockDepth++;
            i += 2;
          } else if (c === 42 && line.charCodeAt(i + 1) === 47) {
            this.blockDepth--;
            i += 2;
            if (this.blockDepth === 0) this.mode = 'normal';
          } else i++;
          continue;
        }
        case 'normal':
          break;
      }
      // Normal mode.
      if (c === 45 && line.charCodeAt(i + 1) === 45) break; // -- comment: the rest of the line
      if (c === 47 && line.charCodeAt(i + 1) === 42) {
        this.mode = 'block';
        this.blockDepth = 1;
        i += 2;
        continue;
      }
      if (c === 32 || c === 9 || c === 13) {
        i++;
        continue;
      }
      if (from === -1) {
        from = i;
        this.startLine = lineNo;
      }
      if (c === 39) {
        const prev = line[i - 1] ?? '';
        const escapes = (prev === 'e' || prev === 'E') && !/[A-Za-z_0-9]/.test(line[i - 2] ?? '');
        this.mode = escapes ? 'single-escape' : 'single';
        i++;
      } else if (c === 34) {
        this.mode = 'double';
        i++;
      } else if (c === 36 && !/[A-Za-z_0-9]/.test(line[i - 1] ?? '')) {
        DOLLAR_TAG.lastIndex = i;
        const tag = DOLLAR_TAG.exec(line);
        if (tag) {
          this.mode = 'dollar';
          this.dollarTag = tag[0];
          i += tag[0].length;
        } else i++;
      } else if (c === 59 && this.atomicDepth === 0) {
        this.parts.push(line.slice(from, i));
        this.finish(items);
        from = -1;
        i++;
        // After a COPY statement the following lines are its data; the rest of this line is not.
        if (this.copying) return;
      } else if (isWordStart(c) && !/[A-Za-z_0-9$]/.test(line[i - 1] ?? '')) {
        WORD.lastIndex = i;
        const word = (WORD.exec(line)?.[0] ?? line[i] ?? '').toLowerCase();
        if (word === 'atomic' && this.previousWord === 'begin') this.atomicDepth++;
        else if (word === 'case' && this.atomicDepth > 0) this.atomicDepth++;
        else if (word === 'end' && this.atomicDepth > 0) this.atomicDepth--;
        this.previousWord = word;
        i += word.length;
      } else i++;
    }
    if (from !== -1) this.parts.push(line.slice(from));
  }

  private finish(items: DumpItem[]): void {
    const text = this.parts.join('\n').trimEnd();
    this.parts = [];
    this.previousWord = '';
    if (text === '') return;
    if (COPY_FROM_STDIN.test(text)) {
      this.copying = true;
      this.copyLine = this.startLine;
      items.push({ kind: 'copy', text, line: this.startLine });
    } else {
      items.push({ kind: 'statement', text, line: this.startLine });
    }
  }
}

function isWordStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

const COPY_ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** The fields of one COPY text-format line: `\N` is null, backslash escapes decoded. */
export function copyFields(line: string): (string | null)[] {
  return line.split('\t').map((field) => {
    if (field === '\\N') return null;
    if (!field.includes('\\')) return field;
    return field.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_m, e: string) => {
      if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
      if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
      return COPY_ESCAPES[e] ?? e;
    });
  });
}
