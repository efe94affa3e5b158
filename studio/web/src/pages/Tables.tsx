/** Tables: schemas, tables and views with row estimates and RLS; one table's rows and structure. */
import { useState } from 'preact/hooks';
import { api, attempt, cellText } from '../api.js';
import type { PageProps } from '../app.js';
import { Button } from '../components/Button.js';
import { DataTable, type Column, type Sort } from '../components/DataTable.js';
import { Select, TextField, Toolbar } from '../components/Field.js';
import { Badge } from '../components/Layout.js';
import { ConfirmDialog } from '../components/Modal.js';
import { Await, ErrorBanner, useToast } from '../components/Notice.js';
import { Tabs } from '../components/Tabs.js';
import { useLoad } from '../hooks.js';
import type { Definition, Filter, Row, RowPage, TableDetail, TableList, TableSummary } from '../types.js';
import { RowForm } from './RowForm.js';

export function TablesPage({ path: [schema, table] }: PageProps) {
  return schema && table ? <TableView key={`${schema}.${table}`} schema={schema} table={table} /> : <TableListView />;
}

const href = (t: TableSummary) => `#/tables/${encodeURIComponent(t.schema)}/${encodeURIComponent(t.name)}`;

const LIST_COLUMNS: Column<TableSummary>[] = [
  { key: 'name', header: 'name', sortable: true, render: (t) => <a href={href(t)}>{t.name}</a> },
  { key: 'kind', header: 'kind', sortable: true },
  { key: 'rowsEstimate', header: 'rows (estimate)', sortable: true },
  { key: 'rls', header: 'RLS', sortable: true, render: (t) => <Badge on={t.rls}>{t.rls ? 'on' : 'off'}</Badge> },
];

function TableListView() {
  const [list] = useLoad(() => api<TableList>('GET', '/tables'), []);
  const [picked, setPicked] = useState<string | undefined>(undefined);
  return (
    <>
      <h2>Tables</h2>
      <Await value={list}>
        {({ schemas, tables }) => {
          const schema = picked ?? (schemas.includes('public') ? 'public' : (schemas[0] ?? ''));
          const shown = tables.filter((t) => t.schema === schema);
          return (
            <>
              <Toolbar>
                Schema <Select id="schema" value={schema} options={schemas} onValue={setPicked} />
              </Toolbar>
              {shown
                .filter((t) => t.warning)
                .map((t) => (
                  <div key={t.name} class="warn">
                    ⚠ {t.schema}.{t.name}: {t.warning}
                  </div>
                ))}
              <DataTable
                id="tables"
                columns={LIST_COLUMNS}
                rows={shown}
                rowKey={(t) => t.name}
                pageSize={100}
                empty="No tables in this schema."
              />
            </>
          );
        }}
      </Await>
    </>
  );
}

const OPERATORS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'like', 'ilike', 'is_null', 'not_null'];
const PAGE_ROWS = 50;

function TableView({ schema, table }: { schema: string; table: string }) {
  const base = `/tables/${encodeURIComponent(schema)}/${encodeURIComponent(table)}`;
  const [detail] = useLoad(() => api<TableDetail>('GET', base), [base]);
  return (
    <>
      <h2>
        <a href="#/tables">Tables</a> / {schema}.{table}
      </h2>
      <Await value={detail}>{(d) => <TableEditor base={base} detail={d} />}</Await>
    </>
  );
}

const definitions = (id: string, list: Definition[], none: string) =>
  list.length === 0 ? (
    <p class="muted">{none}</p>
  ) : (
    <DataTable
      id={id}
      columns={[
        { key: 'name', header: 'name', sortable: true },
        { key: 'definition', header: 'definition', class: 'code' },
      ]}
      rows={list}
      rowKey={(x) => x.name}
    />
  );

function TableEditor({ base, detail }: { base: string; detail: TableDetail }) {
  const toast = useToast();
  const [offset, setOffset] = useState(0);
  const [sort, setSort] = useState<Sort | undefined>(undefined);
  const [draft, setDraft] = useState<Filter>({ column: detail.columns[0]?.name ?? '', op: 'eq', value: '' });
  const [filter, setFilter] = useState<Filter | undefined>(undefined);
  const [editing, setEditing] = useState<{ row?: Row } | undefined>(undefined);
  const [deleting, setDeleting] = useState<Row | undefined>(undefined);
  const [page, reload] = useLoad(
    () =>
      api<RowPage>('POST', `${base}/rows/browse`, {
        filters: filter ? [filter] : [],
        limit: PAGE_ROWS,
        offset,
        ...(sort && { sort }),
      }),
    [base, offset, sort, filter],
  );
  const hasKey = detail.primaryKey.length > 0;
  const keyOf = (row: Row) => Object.fromEntries(detail.primaryKey.map((k) => [k, row[k]]));
  const applyFilter = () => {
    setOffset(0);
    setFilter(draft.value !== '' || draft.op.endsWith('null') ? { ...draft } : undefined);
  };
  const remove = async (row: Row) => {
    const outcome = await attempt(() => api('DELETE', `${base}/rows`, { key: keyOf(row) }));
    if (!outcome.ok) return toast.failed(outcome.error);
    toast.done('Row deleted.');
    await reload();
  };
  const rowColumns: Column<Row>[] = detail.columns.map((c) => ({ key: c.name, header: c.name, sortable: true }));

  return (
    <>
      <Toolbar>
        <Button id="insert-row" onClick={() => setEditing({})}>
          Insert row
        </Button>
        Filter
        <Select
          value={draft.column}
          options={detail.columns.map((c) => c.name)}
          onValue={(column) => setDraft((d) => ({ ...d, column }))}
        />
        <Select value={draft.op} options={OPERATORS} onValue={(op) => setDraft((d) => ({ ...d, op }))} />
        <TextField
          placeholder="value"
          value={draft.value}
          onValue={(value) => setDraft((d) => ({ ...d, value }))}
          onKeyDown={(e) => e.key === 'Enter' && applyFilter()}
        />
        <Button variant="plain" onClick={applyFilter}>
          Apply
        </Button>
        {filter && (
          <Button
            variant="plain"
            onClick={() => {
              setOffset(0);
              setFilter(undefined);
            }}
          >
            Clear
          </Button>
        )}
      </Toolbar>
      {!hasKey && <div class="warn">This table has no primary key: its rows can be inserted, not edited.</div>}
      <Tabs
        tabs={[
          {
            id: 'rows',
            title: 'Rows',
            content:
              page === undefined ? (
                <p class="muted">Loading…</p>
              ) : !page.ok ? (
                <ErrorBanner error={page.error} />
              ) : (
                <DataTable
                  id="rows"
                  columns={rowColumns}
                  rows={page.value.rows}
                  sort={sort}
                  onSort={(s) => {
                    setOffset(0);
                    setSort(s);
                  }}
                  paging={{ offset, limit: PAGE_ROWS, total: page.value.total, onOffset: setOffset }}
                  actions={
                    hasKey
                      ? (row) => (
                          <>
                            <Button variant="plain" onClick={() => setEditing({ row })}>
                              Edit
                            </Button>
                            <Button variant="danger" onClick={() => setDeleting(row)}>
                              Delete
                            </Button>
                          </>
                        )
                      : undefined
                  }
                />
              ),
          },
          {
            id: 'columns',
            title: `Columns (${detail.columns.length})`,
            content: (
              <DataTable
                id="columns"
                columns={[
                  { key: 'name', header: 'name', sortable: true },
                  { key: 'type', header: 'type', sortable: true },
                  { key: 'nullable', header: 'nullable' },
                  { key: 'default', header: 'default', class: 'code' },
                ]}
                rows={detail.columns}
                rowKey={(c) => c.name}
              />
            ),
          },
          {
            id: 'policies',
            title: `Policies (${detail.policies.length})`,
            content:
              detail.policies.length === 0 ? (
                <p class="muted">No policies.</p>
              ) : (
                <DataTable
                  id="policies"
                  columns={[
                    { key: 'name', header: 'name', sortable: true },
                    { key: 'command', header: 'command', sortable: true },
                    { key: 'roles', header: 'roles', value: (p) => p.roles.join(', ') },
                    { key: 'using', header: 'using', class: 'code' },
                    { key: 'check', header: 'with check', class: 'code' },
                    {
                      key: 'advice',
                      header: 'performance',
                      value: (p) => p.advice.join(' '),
                      render: (p) =>
                        p.advice.length === 0 ? (
                          <span class="muted">ok</span>
                        ) : (
                          <ul class="policy-advice">
                            {p.advice.map((a) => (
                              <li key={a}>{a}</li>
                            ))}
                          </ul>
                        ),
                    },
                  ]}
                  rows={detail.policies}
                  rowKey={(p) => p.name}
                />
              ),
          },
          {
            id: 'indexes',
            title: `Indexes (${detail.indexes.length})`,
            content: definitions('indexes', detail.indexes, 'No indexes.'),
          },
          {
            id: 'foreign-keys',
            title: `Foreign keys (${detail.foreignKeys.length})`,
            content: definitions('foreign-keys', detail.foreignKeys, 'No foreign keys.'),
          },
          {
            id: 'triggers',
            title: `Triggers (${detail.triggers.length})`,
            content: definitions('triggers', detail.triggers, 'No triggers.'),
          },
        ]}
      />
      {editing && (
        <RowForm
          base={base}
          detail={detail}
          row={editing.row}
          onClose={() => setEditing(undefined)}
          onSaved={() => {
            setEditing(undefined);
            toast.done('Saved.', 'row-saved');
            void reload();
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title="Delete this row?"
          confirm="Delete"
          onClose={() => setDeleting(undefined)}
          onConfirm={() => void remove(deleting)}
        >
          <p class="code">{detail.primaryKey.map((k) => `${k} = ${cellText(deleting[k])}`).join(', ')}</p>
        </ConfirmDialog>
      )}
    </>
  );
}
