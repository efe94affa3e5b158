/** Operations: the project's migrations, applied and pending (`trellis migrate` applies them), and the backups. */
import { api } from '../api.js';
import { DataTable } from '../components/DataTable.js';
import { Await } from '../components/Notice.js';
import { Tabs } from '../components/Tabs.js';
import { useLoad } from '../hooks.js';
import type { Backups, Migrations } from '../types.js';

export function OperationsPage() {
  const [migrations] = useLoad(() => api<Migrations>('GET', '/migrations'), []);
  const [backups] = useLoad(() => api<Backups>('GET', '/backups'), []);
  return (
    <>
      <h2>Operations</h2>
      <Tabs
        tabs={[
          {
            id: 'migrations',
            title: 'Migrations',
            content: <Await value={migrations}>{(m) => <MigrationsView migrations={m} />}</Await>,
          },
          {
            id: 'backups',
            title: 'Backups',
            content: <Await value={backups}>{(b) => <BackupsView backups={b} />}</Await>,
          },
        ]}
      />
    </>
  );
}

function MigrationsView({ migrations: m }: { migrations: Migrations }) {
  const columns = [
    { key: 'version', header: 'version', sortable: true },
    { key: 'name', header: 'name', sortable: true },
  ];
  return (
    <>
      <h3>Pending ({m.pending.length})</h3>
      {m.pending.length === 0 ? (
        <p class="muted" id="no-pending">
          None: the database is up to date.
        </p>
      ) : (
        <>
          <DataTable id="pending" columns={columns} rows={m.pending} rowKey={(x) => x.version} />
          <p class="muted">Run `trellis migrate` (or restart Trellis) to apply them.</p>
        </>
      )}
      <h3>Applied ({m.applied.length})</h3>
      <DataTable id="applied" columns={columns} rows={m.applied} rowKey={(x) => x.version} pageSize={100} />
    </>
  );
}

function BackupsView({ backups: b }: { backups: Backups }) {
  return (
    <>
      <h3>Backups in {b.where}</h3>
      {b.backups.length === 0 ? (
        <p class="muted" id="no-backups">
          None yet: `trellis backup create`, or BACKUP_SCHEDULE (docs/backups.md).
        </p>
      ) : (
        <DataTable
          id="backup-list"
          columns={[
            { key: 'id', header: 'id', sortable: true },
            { key: 'state', header: 'state', value: (x) => (x.complete ? 'complete' : (x.problem ?? 'incomplete')) },
            { key: 'kind', header: 'kind', sortable: true },
            { key: 'label', header: 'label' },
            { key: 'stopTime', header: 'ends', sortable: true },
            { key: 'size', header: 'bytes', sortable: true },
          ]}
          rows={b.backups}
          rowKey={(x) => x.id}
        />
      )}
    </>
  );
}
