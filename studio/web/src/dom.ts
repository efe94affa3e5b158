/** A small element builder: h('button', { onclick }, 'text'), children as nodes or strings. */
export type Child = Node | string | number | null | undefined | false;
type Props = Record<string, unknown>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value as EventListener);
    else if (key === 'className') el.className = text(value);
    else if (key === 'value') (el as HTMLInputElement).value = text(value);
    else el.setAttribute(key, value === true ? '' : text(value));
  }
  append(el, children);
  return el;
}

const text = (value: unknown): string =>
  typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : `${value as number}`;

export function append(el: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : text(child));
  }
}

export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A cell's text: JSON for objects, '' for null. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  return text(value);
}

export function dataTable(columns: string[], rows: unknown[][], actions?: (i: number) => Child): HTMLTableElement {
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', {}, c)), actions ? h('th', {}, '') : null)),
    h(
      'tbody',
      {},
      ...rows.map((r, i) =>
        h('tr', {}, ...r.map((v) => h('td', {}, cellText(v))), actions ? h('td', {}, actions(i)) : null),
      ),
    ),
  );
}

export function errorBox(err: unknown): HTMLElement {
  return h('div', { className: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err));
}
