/** The SQL editor: run as the service or as a chosen user (RLS applies), EXPLAIN, saved snippets. */
import { useState } from 'preact/hooks';
import { api, attempt, type Outcome } from '../api.js';
import { Button } from '../components/Button.js';
import { DataTable, type Column } from '../components/DataTable.js';
import { Checkbox, Select, TextArea, Toolbar } from '../components/Field.js';
import { ConfirmDialog, PromptDialog } from '../components/Modal.js';
import { ErrorBanner } from '../components/Notice.js';
import type { SqlResult, UserPage } from '../types.js';

const SNIPPETS = 'trellis-studio-snippets';
/** The saved snippets; a value this page did not write (edited by hand, another app's) counts as none. */
const readSnippets = (): Record<string, string> => {
  try {
    const parsed = JSON.parse(localStorage.getItem(SNIPPETS) ?? '{}') as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
};

const ROLES = [
  { value: 'service', label: 'service role (postgres)' },
  { value: 'user', label: 'as a user' },
  { value: 'anon', label: 'anon' },
];

export function SqlPage() {
  const [query, setQuery] = useState('select now();');
  const [role, setRole] = useState('service');
  const [users, setUsers] = useState<{ value: string; label: string }[] | undefined>(undefined);
  const [userId, setUserId] = useState('');
  const [explain, setExplain] = useState(false);
  const [snippets, setSnippets] = useState(readSnippets);
  const [snippet, setSnippet] = useState('');
  const [dialog, setDialog] = useState<'save' | 'delete' | undefined>(undefined);
  const [result, setResult] = useState<Outcome<SqlResult> | 'running' | undefined>(undefined);

  const pickRole = async (next: string) => {
    setRole(next);
    if (next !== 'user') return;
    // Read again each time: a user made since (on the Auth page) is there.
    const outcome = await attempt(() => api<UserPage>('GET', '/auth/users?per_page=200'));
    if (!outcome.ok) return setResult(outcome);
    const options = outcome.value.users.map((u) => ({ value: u.id, label: u.email || u.phone || u.id }));
    setUsers(options);
    setUserId((before) => (options.some((o) => o.value === before) ? before : (options[0]?.value ?? '')));
  };
  const run = async () => {
    setResult('running');
    setResult(
      await attempt(() => api<SqlResult>('POST', '/sql', { query, role, ...(role === 'user' && { userId }), explain })),
    );
  };
  const storeSnippets = (next: Record<string, string>) => {
    localStorage.setItem(SNIPPETS, JSON.stringify(next));
    setSnippets(next);
  };

  return (
    <>
      <h2>SQL editor</h2>
      <Toolbar>
        Run as
        <Select id="sql-role" value={role} options={ROLES} onValue={(r) => void pickRole(r)} />
        <Select id="sql-user" hidden={role !== 'user'} value={userId} options={users ?? []} onValue={setUserId} />
        <Checkbox id="sql-explain" checked={explain} onChecked={setExplain} label="EXPLAIN" />
        <Select
          id="snippets"
          value={snippet}
          options={[{ value: '', label: 'saved snippets…' }, ...Object.keys(snippets)]}
          onValue={(name) => {
            setSnippet(name);
            const text = snippets[name];
            if (text !== undefined) setQuery(text);
          }}
        />
        <Button variant="plain" onClick={() => setDialog('save')}>
          Save snippet
        </Button>
        {snippet !== '' && (
          <Button variant="plain" onClick={() => setDialog('delete')}>
            Delete snippet
          </Button>
        )}
      </Toolbar>
      <TextArea
        id="sql"
        spellcheck={false}
        value={query}
        onValue={setQuery}
        onKeyDown={(e) => {
          if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') void run();
        }}
      />
      <Toolbar>
        <Button id="run-sql" busy={result === 'running'} onClick={() => void run()}>
          Run (Ctrl+Enter)
        </Button>
      </Toolbar>
      <div id="sql-result">
        <ResultView result={result} />
      </div>
      {dialog === 'save' && (
        <PromptDialog
          title="Save snippet"
          label="Name"
          onClose={() => setDialog(undefined)}
          onSubmit={(name) => {
            storeSnippets({ ...snippets, [name]: query });
            setSnippet(name);
          }}
        />
      )}
      {dialog === 'delete' && (
        <ConfirmDialog
          title={`Delete the snippet "${snippet}"?`}
          confirm="Delete"
          onClose={() => setDialog(undefined)}
          onConfirm={() => {
            const { [snippet]: _gone, ...rest } = snippets;
            storeSnippets(rest);
            setSnippet('');
          }}
        />
      )}
    </>
  );
}

function ResultView({ result }: { result: Outcome<SqlResult> | 'running' | undefined }) {
  if (result === undefined) return null;
  if (result === 'running') return <p class="muted">Running…</p>;
  if (!result.ok) return <ErrorBanner error={result.error} />;
  const r = result.value;
  if (r.plan) return <pre id="sql-plan">{r.plan.join('\n')}</pre>;
  const columns: Column<unknown[]>[] = r.columns.map((name, i) => ({
    key: `${i}`,
    header: name,
    value: (row) => row[i],
    sortable: true,
  }));
  return (
    <>
      <p class="muted" id="sql-status">
        {`${r.command ?? ''} ${r.rowCount ?? ''} — ${r.rows.length} row(s), ${r.ms.toFixed(1)} ms`}
      </p>
      {columns.length > 0 && <DataTable columns={columns} rows={r.rows} pageSize={100} />}
    </>
  );
}
