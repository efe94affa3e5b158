/** The SQL editor: run as the service or as a chosen user (RLS applies), EXPLAIN, saved snippets. */
import { api } from './api.js';
import { dataTable, errorBox, h, replace } from './dom.js';

interface Result {
  command: string | null;
  rowCount: number | null;
  columns: string[];
  rows: unknown[][];
  plan?: string[];
  ms: number;
}

const SNIPPETS = 'trellis-studio-snippets';
const snippets = (): Record<string, string> =>
  JSON.parse(localStorage.getItem(SNIPPETS) ?? '{}') as Record<string, string>;

export function sqlPage(root: HTMLElement): void {
  const editor = h('textarea', { id: 'sql', spellcheck: 'false' });
  editor.value = 'select now();';
  const role = h(
    'select',
    { id: 'sql-role' },
    h('option', { value: 'service' }, 'service role (postgres)'),
    h('option', { value: 'user' }, 'as a user'),
    h('option', { value: 'anon' }, 'anon'),
  );
  const user = h('select', { id: 'sql-user', hidden: true });
  const explain = h('input', { type: 'checkbox', id: 'sql-explain' });
  const output = h('div', { id: 'sql-result' });
  const saved = h('select', { id: 'snippets' });
  const fillSnippets = () =>
    replace(
      saved,
      h('option', { value: '' }, 'saved snippets…'),
      ...Object.keys(snippets()).map((n) => h('option', { value: n }, n)),
    );
  fillSnippets();
  saved.addEventListener('change', () => {
    const text = snippets()[saved.value];
    if (text !== undefined) editor.value = text;
  });
  const pickUser = async () => {
    user.hidden = role.value !== 'user';
    if (role.value === 'user' && user.options.length === 0) {
      const { users } = await api<{ users: { id: string; email: string | null; phone: string | null }[] }>(
        'GET',
        '/auth/users?per_page=200',
      );
      replace(user, ...users.map((u) => h('option', { value: u.id }, u.email || u.phone || u.id)));
    }
  };
  role.addEventListener('change', () => void pickUser());
  const run = async () => {
    replace(output, 'Running…');
    try {
      const result = await api<Result>('POST', '/sql', {
        query: editor.value,
        role: role.value,
        ...(role.value === 'user' && { userId: user.value }),
        explain: explain.checked,
      });
      if (result.plan) replace(output, h('pre', { id: 'sql-plan' }, result.plan.join('\n')));
      else
        replace(
          output,
          h(
            'p',
            { className: 'muted', id: 'sql-status' },
            `${result.command ?? ''} ${result.rowCount ?? ''} — ${result.rows.length} row(s), ${result.ms.toFixed(1)} ms`,
          ),
          result.columns.length > 0 ? dataTable(result.columns, result.rows) : null,
        );
    } catch (err) {
      replace(output, errorBox(err));
    }
  };
  editor.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') void run();
  });
  replace(
    root,
    h('h2', {}, 'SQL editor'),
    h(
      'div',
      { className: 'row' },
      'Run as',
      role,
      user,
      h('label', {}, explain, ' EXPLAIN'),
      saved,
      h(
        'button',
        {
          className: 'plain',
          onclick: () => {
            const name = prompt('Snippet name');
            if (!name) return;
            localStorage.setItem(SNIPPETS, JSON.stringify({ ...snippets(), [name]: editor.value }));
            fillSnippets();
          },
        },
        'Save snippet',
      ),
    ),
    editor,
    h('div', { className: 'row' }, h('button', { id: 'run-sql', onclick: () => void run() }, 'Run (Ctrl+Enter)')),
    output,
  );
}
