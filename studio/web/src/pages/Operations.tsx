/** Operations: the migrations (applied and pending), the backups (start, restore), the queues and the cron jobs. */
import { api } from '../api.js';
import { DataTable } from '../components/DataTable.js';
import { Await } from '../components/Notice.js';
import { Tabs } from '../components/Tabs.js';
import { useLoad } from '../hooks.js';
import type { Migrations } from '../types.js';
import { BackupsView } from './Backups.js';
import { CronView, QueuesView } from './QueuesCron.js';

export function OperationsPage() {
  const [migrations] = useLoad(() => api<Migrations>('GET', '/migrations'), []);
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
          { id: 'backups', title: 'Backups', content: <BackupsView /> },
          { id: 'queues', title: 'Queues', content: <QueuesView /> },
          { id: 'cron', title: 'Cron', content: <CronView /> },
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
