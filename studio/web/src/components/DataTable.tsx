/**
 * A table of rows with sortable columns and pages. Sorting and paging happen here, on the rows given
 * (`pageSize`), or on the server: pass `sort` + `onSort` and `paging`, and the rows are one page already.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { cellText, compareValues as compare } from '../derive.js';
import { Button } from './Button.js';

export interface Column<R> {
  key: string;
  header: ComponentChildren;
  /** The cell's value: its text (cellText) and its sort order. */
  value?: (row: R) => unknown;
  /** The cell's content when it is more than the value's text (a link, a badge). */
  render?: (row: R) => ComponentChildren;
  sortable?: boolean;
  class?: string;
}

export interface Sort {
  column: string;
  ascending: boolean;
}

export interface Paging {
  offset: number;
  limit: number;
  total: number;
  onOffset: (offset: number) => void;
}

export interface DataTableProps<R> {
  id?: string;
  columns: Column<R>[];
  rows: readonly R[];
  rowKey?: (row: R, index: number) => string | number;
  /** A last cell of buttons for each row. */
  actions?: (row: R) => ComponentChildren;
  /** Server-side sort: the current order and where a header click goes. */
  sort?: Sort;
  onSort?: (sort: Sort) => void;
  /** Server-side pages. */
  paging?: Paging;
  /** Client-side pages of this many rows. */
  pageSize?: number;
  empty?: ComponentChildren;
}

export function DataTable<R>(props: DataTableProps<R>) {
  const { id, columns, rows, rowKey, actions, paging, pageSize, empty } = props;
  const [localSort, setLocalSort] = useState<Sort | undefined>(undefined);
  const [localOffset, setLocalOffset] = useState(0);
  const sort = props.onSort ? props.sort : localSort;
  const valueOf = (c: Column<R>, row: R): unknown =>
    c.value ? c.value(row) : (row as Record<string, unknown> | null)?.[c.key];

  let shown = rows;
  if (!props.onSort && localSort) {
    const column = columns.find((c) => c.key === localSort.column);
    if (column) {
      const direction = localSort.ascending ? 1 : -1;
      shown = [...rows].sort((a, b) => direction * compare(valueOf(column, a), valueOf(column, b)));
    }
  }
  let pager: Paging | undefined = paging;
  if (!paging && pageSize !== undefined && rows.length > pageSize) {
    const offset = localOffset < rows.length ? localOffset : 0;
    shown = shown.slice(offset, offset + pageSize);
    pager = { offset, limit: pageSize, total: rows.length, onOffset: setLocalOffset };
  }

  const clickHeader = (c: Column<R>) => {
    const next = { column: c.key, ascending: sort?.column === c.key ? !sort.ascending : true };
    if (props.onSort) props.onSort(next);
    else {
      setLocalSort(next);
      setLocalOffset(0);
    }
  };

  return (
    <div class="data-table">
      <table id={id}>
        <thead>
          <tr>
            {columns.map((c) => {
              const sorted = sort?.column === c.key;
              return c.sortable ? (
                <th
                  key={c.key}
                  class="sortable"
                  aria-sort={sorted ? (sort.ascending ? 'ascending' : 'descending') : 'none'}
                  onClick={() => clickHeader(c)}
                >
                  {c.header}
                  {sorted ? (sort.ascending ? ' ▲' : ' ▼') : ''}
                </th>
              ) : (
                <th key={c.key}>{c.header}</th>
              );
            })}
            {actions && <th />}
          </tr>
        </thead>
        <tbody>
          {shown.map((row, i) => (
            <tr key={rowKey ? rowKey(row, i) : i}>
              {columns.map((c) => (
                <td key={c.key} class={c.class}>
                  {c.render ? c.render(row) : cellText(valueOf(c, row))}
                </td>
              ))}
              {actions && <td class="actions">{actions(row)}</td>}
            </tr>
          ))}
        </tbody>
      </table>
      {shown.length === 0 && empty !== undefined && <p class="muted">{empty}</p>}
      {pager && <Pager {...pager} shown={shown.length} />}
    </div>
  );
}

function Pager({ offset, limit, total, onOffset, shown }: Paging & { shown: number }) {
  return (
    <div class="row pager">
      <Button variant="plain" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - limit))}>
        ‹ Prev
      </Button>
      <span>
        {total === 0 ? 0 : offset + 1}–{offset + shown} of {total}
      </span>
      <Button variant="plain" disabled={offset + limit >= total} onClick={() => onOffset(offset + limit)}>
        Next ›
      </Button>
    </div>
  );
}
