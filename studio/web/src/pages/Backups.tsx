/**
 * Operations' backups: the list in BACKUP_TARGET, a button that starts a backup and one per backup
 * that restores it (never over the running project: into an empty database or a new folder), each
 * as a job polled until it ends (GET /jobs/:id).
 */
import { useState } from 'preact/hooks';
import { api, attempt } from '../api.js';
import { Button } from '../components/Button.js';
import { DataTable } from '../components/DataTable.js';
import { TextField, Toolbar } from '../components/Field.js';
import { Badge } from '../components/Layout.js';
import { Modal } from '../components/Modal.js';
import { Await, ErrorBanner, useToast } from '../components/Notice.js';
import { useInterval, useLoad } from '../hooks.js';
import type { Backup, Backups, Job } from '../types.js';

const JOB_POLL_MS = 1000;

export function BackupsView() {
  const toast = useToast();
  const [backups, reloadBackups] = useLoad(() => api<Backups>('GET', '/backups'), []);
  const [jobs, reloadJobs] = useLoad(() => api<{ jobs: Job[] }>('GET', '/jobs'), []);
  const [label, setLabel] = useState('');
  const [restoring, setRestoring] = useState<Backup | undefined>(undefined);
  const running = jobs?.ok === true && jobs.value.jobs.some((j) => j.state === 'running');
  // While a job runs, poll the jobs; when the last one ends, read the backups again.
  useInterval(
    () => {
      if (!running) return;
      void reloadJobs().then(() => reloadBackups());
    },
    JOB_POLL_MS,
    [running],
  );
  const start = async () => {
    const outcome = await attempt(() => api<{ job: Job }>('POST', '/backups', label === '' ? {} : { label }));
    if (!outcome.ok) return toast.failed(outcome.error);
    toast.done('Backup started.', 'backup-started');
    setLabel('');
    await reloadJobs();
  };

  return (
    <>
      <Toolbar>
        <TextField id="backup-label" placeholder="label (optional)" value={label} onValue={setLabel} />
        <Button id="start-backup" busy={running} onClick={() => void start()}>
          Start a backup
        </Button>
      </Toolbar>
      <Await value={jobs}>{({ jobs: list }) => <JobList jobs={list} />}</Await>
      <Await value={backups}>
        {(b) => (
          <>
            <h3>Backups in {b.where}</h3>
            {b.backups.length === 0 ? (
              <p class="muted" id="no-backups">
                None yet: start one above, `trellis backup create`, or BACKUP_SCHEDULE (docs/backups.md).
              </p>
            ) : (
              <DataTable
                id="backup-list"
                columns={[
                  { key: 'id', header: 'id', sortable: true, class: 'code' },
                  {
                    key: 'state',
                    header: 'state',
                    value: (x) => (x.complete ? 'complete' : (x.problem ?? 'incomplete')),
                  },
                  { key: 'kind', header: 'kind', sortable: true },
                  { key: 'label', header: 'label' },
                  { key: 'stopTime', header: 'ends', sortable: true },
                  { key: 'size', header: 'bytes', sortable: true },
                ]}
                rows={b.backups}
                rowKey={(x) => x.id}
                pageSize={50}
                actions={(x) =>
                  x.complete && (
                    <Button variant="plain" onClick={() => setRestoring(x)}>
                      Restore…
                    </Button>
                  )
                }
              />
            )}
          </>
        )}
      </Await>
      {restoring && (
        <RestoreDialog
          backup={restoring}
          onClose={() => setRestoring(undefined)}
          onStarted={() => {
            setRestoring(undefined);
            toast.done(`Restore of ${restoring.id} started.`, 'restore-started');
            void reloadJobs();
          }}
        />
      )}
    </>
  );
}

const JOB_BADGE = { running: undefined, succeeded: true, failed: false } as const;

function JobList({ jobs }: { jobs: Job[] }) {
  if (jobs.length === 0) return null;
  return (
    <>
      <h3>Jobs (this process, newest first)</h3>
      <DataTable
        id="jobs"
        columns={[
          { key: 'kind', header: 'job' },
          {
            key: 'subject',
            header: 'of',
            class: 'code',
            value: (j) =>
              Object.entries(j.subject)
                .filter(([, v]) => v !== null)
                .map(([k, v]) => `${k}: ${v}`)
                .join(', '),
          },
          {
            key: 'state',
            header: 'state',
            render: (j) => (
              <span class={`job-${j.state}`}>
                <Badge on={JOB_BADGE[j.state]}>{j.state}</Badge>
              </span>
            ),
          },
          {
            key: 'progress',
            header: 'progress',
            render: (j) =>
              j.state === 'failed' ? (
                <ErrorBanner error={j.error ?? 'failed'} />
              ) : (
                <>
                  {j.progress.step ?? ''}
                  {j.progress.done > 0 &&
                    ` ${j.progress.done}${j.progress.total > 0 ? ` of ${j.progress.total}` : ''} ${j.progress.unit ?? ''}`}
                  {j.progress.notes.length > 0 && <div class="muted">{j.progress.notes.at(-1)}</div>}
                </>
              ),
          },
          { key: 'startedAt', header: 'started', value: (j) => j.startedAt.slice(11, 19) },
          { key: 'finishedAt', header: 'ended', value: (j) => j.finishedAt?.slice(11, 19) ?? '' },
        ]}
        rows={jobs}
        rowKey={(j) => j.id}
        pageSize={10}
      />
    </>
  );
}

/** A restore asks for the backup id again, and where to restore: a folder beside this project, or an empty database. */
function RestoreDialog(props: { backup: Backup; onClose: () => void; onStarted: () => void }) {
  const { backup } = props;
  const isDump = backup.kind === 'pg_dump';
  const [confirm, setConfirm] = useState('');
  const [into, setInto] = useState('');
  const [toTime, setToTime] = useState('');
  const [error, setError] = useState<Error | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    const outcome = await attempt(() =>
      api('POST', `/backups/${encodeURIComponent(backup.id)}/restore`, {
        confirm,
        ...(isDump ? { databaseUrl: into } : { folder: into, ...(toTime !== '' && { toTime }) }),
      }),
    );
    setBusy(false);
    if (!outcome.ok) return setError(outcome.error);
    props.onStarted();
  };
  return (
    <Modal
      id="restore"
      title={`Restore ${backup.id}`}
      onClose={props.onClose}
      footer={
        <>
          <Button
            id="restore-start"
            variant="danger"
            busy={busy}
            disabled={confirm !== backup.id || into === ''}
            onClick={() => void submit()}
          >
            Restore
          </Button>
          <Button variant="plain" onClick={props.onClose}>
            Cancel
          </Button>
        </>
      }
    >
      <p>
        The running project is not touched:{' '}
        {isDump
          ? 'a pg_dump backup is restored into an empty database.'
          : 'the backup becomes a new project folder beside this one, which `trellis start --dir ../<folder>` then serves.'}
      </p>
      <TextField
        id="restore-into"
        label={isDump ? 'postgres:// URL of an empty database' : 'new folder name'}
        value={into}
        onValue={setInto}
      />
      {!isDump && (
        <TextField
          id="restore-time"
          label="to a point in time (optional, ISO-8601 with a zone; default the latest archived)"
          placeholder="2026-12-02T01:15:00Z"
          value={toTime}
          onValue={setToTime}
        />
      )}
      <TextField id="restore-confirm" label={`type ${backup.id} to confirm`} value={confirm} onValue={setConfirm} />
      {error && <ErrorBanner error={error} />}
    </Modal>
  );
}
