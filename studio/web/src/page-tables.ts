/** Tables: schemas, tables and views with row estimates and RLS; one table's rows and structure. */
import { api } from './api.js';
import { cellText, dataTable, errorBox, h, replace } from './dom.js';

interface Summary {
  schema: string;
  name: string;
  kind: string;
  rowsEstimate: number;
  rls: boolean;
  warning: string | null;
}
interface Column {
  name: string;
  type: string;
  nullable: boolean;
  default: string | null;
}
interface Detail {
  schema: string;
  name: string;
  primaryKey: string[];
  columns: Column[];
  indexes: { name: string; definition: string }[];
  foreignKeys: { name: string; definition: string }[];
  policies: { name: string; command: string; roles: string[]; using: string | null; check: string | null }[];
  triggers: { name: string; definition: string }[];
}
interface Page {
  rows: Record<string, unknown>[];
  total: number;
}

export function tablesPage(root: HTMLElement): void {
  const [, schema, table] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (schema && table) void showTable(root, schema, table);
  else void showList(root);
}

async function showList(root: HTMLElement): Promise<void> {
  replace(root, h('h2', {}, 'Tables'), 'Loading…');
  try {
    const { schemas, tables } = await api<{ schemas: string[]; tables: Summary[] }>('GET', '/tables');
    const pick = h('select', { id: 'schema' }, ...schemas.map((s) => h('option', { value: s }, s)));
    pick.value = schemas.includes('public') ? 'public' : (schemas[0] ?? '');
    const list = h('div', {});
    const render = () => {
      const shown = tables.filter((t) => t.schema === pick.value);
      replace(
        list,
        ...shown
          .filter((t) => t.warning)
          .map((t) => h('div', { className: 'warn' }, `⚠ ${t.schema}.${t.name}: ${t.warning}`)),
        h(
          'table',
          { id: 'tables' },
          h('tr', {}, h('th', {}, 'name'), h('th', {}, 'kind'), h('th', {}, 'rows (estimate)'), h('th', {}, 'RLS')),
          ...shown.map((t) =>
            h(
              'tr',
              {},
              h(
                'td',
                {},
                h('a', { href: `#/tables/${encodeURIComponent(t.schema)}/${encodeURIComponent(t.name)}` }, t.name),
              ),
              h('td', {}, t.kind),
              h('td', {}, t.rowsEstimate),
              h('td', {}, h('span', { className: `badge ${t.rls ? 'on' : 'off'}` }, t.rls ? 'on' : 'off')),
            ),
          ),
        ),
      );
    };
    pick.addEventListener('change', render);
    replace(root, h('h2', {}, 'Tables'), h('div', { className: 'row' }, 'Schema', pick), list);
    render();
  } catch (err) {
    replace(root, h('h2', {}, 'Tables'), errorBox(err));
  }
}

async function showTable(root: HTMLElement, schema: string, table: string): Promise<void> {
  const base = `/tables/${encodeURIComponent(schema)}/${encodeURIComponent(table)}`;
  const title = h('h2', {}, h('a', { href: '#/tables' }, 'Tables'), ` / ${schema}.${table}`);
  let detail: Detail;
  try {
    detail = await api<Detail>('GET', base);
  } catch (err) {
    replace(root, title, errorBox(err));
    return;
  }
  const state = { offset: 0, limit: 50, sort: undefined as string | undefined, ascending: true };
  const filterColumn = h('select', {}, ...detail.columns.map((c) => h('option', { value: c.name }, c.name)));
  const filterOp = h(
    'select',
    {},
    ...['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'ilike', 'is_null', 'not_null'].map((o) => h('option', { value: o }, o)),
  );
  const filterValue = h('input', { placeholder: 'value' });
  const grid = h('div', {});
  const message = h('div', {});
  const load = async () => {
    const filters =
      filterValue.value !== '' || filterOp.value.endsWith('null')
        ? [{ column: filterColumn.value, op: filterOp.value, value: filterValue.value }]
        : [];
    try {
      const page = await api<Page>('POST', `${base}/rows/browse`, {
        filters,
        limit: state.limit,
        offset: state.offset,
        ...(state.sort && { sort: { column: state.sort, ascending: state.ascending } }),
      });
      const cols = detail.columns.map((c) => c.name);
      const headers = h(
        'tr',
        {},
        ...cols.map((c) =>
          h(
            'th',
            {
              onclick: () => (
                (state.ascending = state.sort === c ? !state.ascending : true),
                (state.sort = c),
                void load()
              ),
              style: 'cursor:pointer',
            },
            c,
            state.sort === c ? (state.ascending ? ' ▲' : ' ▼') : '',
          ),
        ),
        h('th', {}, ''),
      );
      replace(
        grid,
        h(
          'table',
          { id: 'rows' },
          headers,
          ...page.rows.map((row) =>
            h(
              'tr',
              {},
              ...cols.map((c) => h('td', {}, cellText(row[c]))),
              h(
                'td',
                {},
                detail.primaryKey.length > 0
                  ? h('button', { className: 'plain', onclick: () => editRow(row) }, 'Edit')
                  : null,
                detail.primaryKey.length > 0
                  ? h('button', { className: 'danger', onclick: () => void removeRow(row) }, 'Delete')
                  : null,
              ),
            ),
          ),
        ),
        h(
          'div',
          { className: 'row' },
          h(
            'button',
            {
              className: 'plain',
              disabled: state.offset === 0,
              onclick: () => ((state.offset = Math.max(0, state.offset - state.limit)), void load()),
            },
            '‹ Prev',
          ),
          `${page.total === 0 ? 0 : state.offset + 1}–${state.offset + page.rows.length} of ${page.total}`,
          h(
            'button',
            {
              className: 'plain',
              disabled: state.offset + state.limit >= page.total,
              onclick: () => ((state.offset += state.limit), void load()),
            },
            'Next ›',
          ),
        ),
      );
    } catch (err) {
      replace(grid, errorBox(err));
    }
  };
  const keyOf = (row: Record<string, unknown>) => Object.fromEntries(detail.primaryKey.map((k) => [k, row[k]]));
  const removeRow = async (row: Record<string, unknown>) => {
    try {
      await api('DELETE', `${base}/rows`, { key: keyOf(row) });
      await load();
    } catch (err) {
      replace(message, errorBox(err));
    }
  };
  const form = h('div', { id: 'row-form' });
  const editRow = (row?: Record<string, unknown>) => {
    const inputs = detail.columns.map((c) => {
      const input = h('input', { name: c.name, placeholder: c.default ? `default: ${c.default}` : c.type });
      if (row) input.value = row[c.name] === null || row[c.name] === undefined ? '' : cellText(row[c.name]);
      const isNull = h('input', { type: 'checkbox', name: `${c.name}-null`, disabled: !c.nullable });
      if (row && row[c.name] === null) isNull.checked = true;
      return { c, input, isNull };
    });
    replace(
      form,
      h('h3', {}, row ? 'Edit row' : 'Insert row'),
      h(
        'table',
        {},
        ...inputs.map(({ c, input, isNull }) =>
          h(
            'tr',
            {},
            h('th', {}, `${c.name} `, h('span', { className: 'muted' }, c.type)),
            h('td', {}, input, h('label', { className: 'muted' }, isNull, ' NULL')),
          ),
        ),
      ),
      h(
        'button',
        {
          id: 'save-row',
          onclick: async () => {
            // Empty fields are left out: the column's default (insert) or its value (update) stays;
            // NULL is asked for with its box.
            // An edit sends only what changed (an identity key column may not be written at all).
            const changed = (name: string, value: string | null) =>
              !row || (value === null ? row[name] !== null : row[name] === null || cellText(row[name]) !== value);
            const values = Object.fromEntries(
              inputs
                .filter(({ input, isNull }) => isNull.checked || input.value !== '')
                .map(({ c, input, isNull }) => [c.name, isNull.checked ? null : input.value] as const)
                .filter(([name, value]) => changed(name, value)),
            );
            try {
              if (row) await api('PATCH', `${base}/rows`, { key: keyOf(row), row: values });
              else await api('POST', `${base}/rows`, { row: values });
              replace(form);
              replace(message, h('div', { className: 'muted', id: 'row-saved' }, 'Saved.'));
              await load();
            } catch (err) {
              replace(message, errorBox(err));
            }
          },
        },
        'Save',
      ),
      h('button', { className: 'plain', onclick: () => replace(form) }, 'Cancel'),
    );
  };
  replace(
    root,
    title,
    h(
      'div',
      { className: 'row' },
      h('button', { id: 'insert-row', onclick: () => editRow() }, 'Insert row'),
      'Filter',
      filterColumn,
      filterOp,
      filterValue,
      h('button', { className: 'plain', onclick: () => ((state.offset = 0), void load()) }, 'Apply'),
    ),
    message,
    form,
    grid,
    h('h3', {}, 'Columns'),
    dataTable(
      ['name', 'type', 'nullable', 'default'],
      detail.columns.map((c) => [c.name, c.type, c.nullable, c.default]),
    ),
    h('h3', {}, 'Policies'),
    detail.policies.length === 0
      ? h('p', { className: 'muted' }, 'No policies.')
      : dataTable(
          ['name', 'command', 'roles', 'using', 'with check'],
          detail.policies.map((p) => [p.name, p.command, p.roles.join(', '), p.using, p.check]),
        ),
    h('h3', {}, 'Indexes'),
    dataTable(
      ['name', 'definition'],
      detail.indexes.map((i) => [i.name, i.definition]),
    ),
    h('h3', {}, 'Foreign keys'),
    dataTable(
      ['name', 'definition'],
      detail.foreignKeys.map((f) => [f.name, f.definition]),
    ),
    h('h3', {}, 'Triggers'),
    dataTable(
      ['name', 'definition'],
      detail.triggers.map((t) => [t.name, t.definition]),
    ),
  );
  await load();
}
