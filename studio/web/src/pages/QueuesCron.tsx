/** Operations' queues (pgmq: depth, ages, dead letters; purge) and cron jobs (last runs; pause, resume). */
import { useState } from 'preact/hooks';
import { api, attempt } from '../api.js';
import { Button } from '../components/Button.js';
import { DataTable } from '../components/DataTable.js';
import { TextField } from '../components/Field.js';
import { Badge } from '../components/Layout.js';
import { Modal } from '../components/Modal.js';
import { Await, ErrorBanner, useToast } from '../components/Notice.js';
import { useLoad } from '../hooks.js';
import type { Cron, CronRun, Queue, Queues } from '../types.js';

const age = (s: number | null) =>
  s === null ? '' : s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;

export function QueuesView() {
  const toast = useToast();
  const [queues, reload] = useLoad(() => api<Queues>('GET', '/queues'), []);
  const [purging, setPurging] = useState<Queue | undefined>(undefined);
  return (
    <Await value={queues}>
      {({ queues: list, deadJobs }) => (
        <>
          <DataTable
            id="queue-list"
            columns={[
              { key: 'name', header: 'queue', sortable: true },
              { key: 'depth', header: 'messages', sortable: true },
              { key: 'visible', header: 'visible now', sortable: true },
              { key: 'oldestAgeSeconds', header: 'oldest', sortable: true, render: (q) => age(q.oldestAgeSeconds) },
              { key: 'totalSent', header: 'sent in all', sortable: true },
              {
                key: 'deadLetter',
                header: 'dead letters',
                render: (q) =>
                  q.deadLetter
                    ? `→ ${q.deadLetter.queue} after ${q.deadLetter.maxReads} reads (${q.deadLetter.moved} moved, ${q.deadLetter.waiting} waiting)`
                    : '',
              },
            ]}
            rows={list}
            rowKey={(q) => q.name}
            pageSize={50}
            empty="No queue (docs/queues.md makes one with pgmq.create)."
            actions={(q) => (
              <Button variant="danger" onClick={() => setPurging(q)}>
                Purge…
              </Button>
            )}
          />
          <h3>Dead jobs (the job runner's tasks whose last attempt failed)</h3>
          <DataTable
            id="dead-jobs"
            columns={[
              { key: 'task', header: 'task', sortable: true },
              { key: 'count', header: 'jobs', sortable: true },
              { key: 'lastFailedAt', header: 'last failed', sortable: true },
            ]}
            rows={deadJobs}
            rowKey={(d) => d.task}
            empty="None."
          />
          {purging && (
            <PurgeDialog
              queue={purging}
              onClose={() => setPurging(undefined)}
              onPurged={(n) => {
                setPurging(undefined);
                toast.done(`Purged ${n} message(s) from ${purging.name}.`, 'queue-purged');
                void reload();
              }}
            />
          )}
        </>
      )}
    </Await>
  );
}

function PurgeDialog(props: { queue: Queue; onClose: () => void; onPurged: (count: number) => void }) {
  const { name } = props.queue;
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<Error | undefined>(undefined);
  const purge = async () => {
    const outcome = await attempt(() =>
      api<{ purged: number }>('POST', `/queues/${encodeURIComponent(name)}/purge`, { confirm }),
    );
    if (!outcome.ok) return setError(outcome.error);
    props.onPurged(outcome.value.purged);
  };
  return (
    <Modal
      id="purge"
      title={`Purge ${name}?`}
      onClose={props.onClose}
      footer={
        <>
          <Button id="purge-yes" variant="danger" disabled={confirm !== name} onClick={() => void purge()}>
            Purge
          </Button>
          <Button variant="plain" onClick={props.onClose}>
            Cancel
          </Button>
        </>
      }
    >
      <p>Every message of the queue is deleted ({props.queue.depth} now); its archive stays.</p>
      <TextField id="purge-confirm" label={`type ${name} to confirm`} value={confirm} onValue={setConfirm} />
      {error && <ErrorBanner error={error} />}
    </Modal>
  );
}

const runText = (r: CronRun) =>
  `${r.startTime?.slice(0, 19).replace('T', ' ') ?? r.scheduledAt ?? ''} ${r.status}${r.returnMessage ? `: ${r.returnMessage}` : ''}`;

export function CronView() {
  const toast = useToast();
  const [cron, reload] = useLoad(() => api<Cron>('GET', '/cron'), []);
  const setActive = async (id: number, active: boolean) => {
    const outcome = await attempt(() => api('POST', `/cron/${id}/${active ? 'resume' : 'pause'}`));
    if (!outcome.ok) return toast.failed(outcome.error);
    toast.done(active ? 'Resumed.' : 'Paused.', 'cron-changed');
    await reload();
  };
  return (
    <Await value={cron}>
      {({ schedulerEnabled, jobs }) => (
        <>
          {!schedulerEnabled && (
            <div class="warn">This instance runs no cron job (CRON_ENABLED=false); another instance may.</div>
          )}
          <DataTable
            id="cron-list"
            columns={[
              { key: 'name', header: 'job', sortable: true, value: (j) => j.name ?? `#${j.id}` },
              { key: 'schedule', header: 'schedule', class: 'code' },
              { key: 'command', header: 'command', class: 'code' },
              { key: 'username', header: 'as' },
              {
                key: 'active',
                header: 'state',
                sortable: true,
                render: (j) => <Badge on={j.active}>{j.active ? 'active' : 'paused'}</Badge>,
              },
              {
                key: 'lastRuns',
                header: 'last runs',
                render: (j) =>
                  j.lastRuns.length === 0 ? (
                    <span class="muted">none yet</span>
                  ) : (
                    <ul class="cell-list">
                      {j.lastRuns.map((r) => (
                        <li key={r.id} class={r.status === 'failed' ? 'failed' : undefined}>
                          {runText(r)}
                        </li>
                      ))}
                    </ul>
                  ),
              },
            ]}
            rows={jobs}
            rowKey={(j) => j.id}
            pageSize={50}
            empty="No cron job (docs/cron.md: cron.schedule)."
            actions={(j) => (
              <Button variant="plain" onClick={() => void setActive(j.id, !j.active)}>
                {j.active ? 'Pause' : 'Resume'}
              </Button>
            )}
          />
        </>
      )}
    </Await>
  );
}
