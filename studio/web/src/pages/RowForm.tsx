/** The table editor's row form, in a dialog: insert a row, or edit one (only what changed is sent). */
import { useState } from 'preact/hooks';
import { api, attempt, cellText } from '../api.js';
import { Button } from '../components/Button.js';
import { Checkbox, TextField } from '../components/Field.js';
import { Modal } from '../components/Modal.js';
import { ErrorBanner } from '../components/Notice.js';
import type { Row, TableDetail } from '../types.js';

export function RowForm(props: {
  base: string;
  detail: TableDetail;
  row: Row | undefined;
  onClose: () => void;
  onSaved: () => void;
}) {
  const { base, detail, row } = props;
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(
      detail.columns.map((c) => [
        c.name,
        row && row[c.name] !== null && row[c.name] !== undefined ? cellText(row[c.name]) : '',
      ]),
    ),
  );
  const [nulls, setNulls] = useState<Record<string, boolean>>(() =>
    Object.fromEntries(detail.columns.map((c) => [c.name, row !== undefined && row[c.name] === null])),
  );
  const [error, setError] = useState<Error | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const save = async () => {
    // Empty fields are left out: the column's default (insert) or its value (update) stays; NULL is
    // asked for with its box. An edit sends only what changed (an identity key column may not be written at all).
    const changed = (name: string, value: string | null) =>
      !row || (value === null ? row[name] !== null : row[name] === null || cellText(row[name]) !== value);
    const changes = Object.fromEntries(
      detail.columns
        .filter((c) => nulls[c.name] === true || values[c.name] !== '')
        .map((c) => [c.name, nulls[c.name] === true ? null : (values[c.name] ?? '')] as const)
        .filter(([name, value]) => changed(name, value)),
    );
    const key = Object.fromEntries(detail.primaryKey.map((k) => [k, row?.[k]]));
    setBusy(true);
    const outcome = await attempt(() =>
      row ? api('PATCH', `${base}/rows`, { key, row: changes }) : api('POST', `${base}/rows`, { row: changes }),
    );
    setBusy(false);
    if (!outcome.ok) return setError(outcome.error);
    props.onSaved();
  };

  return (
    <Modal
      id="row-form"
      title={row ? 'Edit row' : 'Insert row'}
      onClose={props.onClose}
      wide
      footer={
        <>
          <Button id="save-row" busy={busy} onClick={() => void save()}>
            Save
          </Button>
          <Button variant="plain" onClick={props.onClose}>
            Cancel
          </Button>
        </>
      }
    >
      <table class="form-table">
        <tbody>
          {detail.columns.map((c) => (
            <tr key={c.name}>
              <th>
                {c.name} <span class="muted">{c.type}</span>
              </th>
              <td>
                <TextField
                  name={c.name}
                  placeholder={c.default ? `default: ${c.default}` : c.type}
                  value={values[c.name] ?? ''}
                  disabled={nulls[c.name] === true}
                  onValue={(v) => setValues((before) => ({ ...before, [c.name]: v }))}
                />
                <Checkbox
                  name={`${c.name}-null`}
                  disabled={!c.nullable}
                  checked={nulls[c.name] === true}
                  onChecked={(v) => setNulls((before) => ({ ...before, [c.name]: v }))}
                  label={<span class="muted">NULL</span>}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {error && <ErrorBanner error={error} />}
    </Modal>
  );
}
