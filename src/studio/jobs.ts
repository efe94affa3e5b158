/**
 * Studio's long work (a backup, a restore) runs as a job: started by a request that answers at once
 * with the job, then polled (GET /jobs/:id) for its state and progress. Jobs live in this process's
 * memory: a restart forgets them (the backups themselves are in BACKUP_TARGET), and each instance
 * knows only its own.
 */
import crypto from 'node:crypto';
import type { BackupProgress } from '../backup/index.js';
import { errorMessage } from '../errors.js';

export type JobState = 'running' | 'succeeded' | 'failed';

export interface StudioJob {
  readonly id: string;
  readonly kind: string;
  /** What the job works on (a backup id, the target). */
  readonly subject: Readonly<Record<string, string | null>>;
  state: JobState;
  progress: { step: string | null; done: number; total: number; unit: string | null; notes: string[] };
  error: string | null;
  result: unknown;
  readonly startedAt: string;
  finishedAt: string | null;
}

const KEPT_JOBS = 50;
const KEPT_NOTES = 20;

export class StudioJobs {
  readonly #jobs = new Map<string, StudioJob>();

  /** Starts `work` now; the job is answered before it ends. */
  start(kind: string, subject: StudioJob['subject'], work: (progress: BackupProgress) => Promise<unknown>): StudioJob {
    const job: StudioJob = {
      id: crypto.randomUUID(),
      kind,
      subject,
      state: 'running',
      progress: { step: null, done: 0, total: 0, unit: null, notes: [] },
      error: null,
      result: null,
      startedAt: new Date().toISOString(),
      finishedAt: null,
    };
    this.#jobs.set(job.id, job);
    for (const old of [...this.#jobs.values()].slice(0, Math.max(0, this.#jobs.size - KEPT_JOBS)))
      if (old.state !== 'running') this.#jobs.delete(old.id);
    const progress: BackupProgress = {
      start(label, total, unit) {
        job.progress = { ...job.progress, step: label, done: 0, total, unit };
        return {
          tick: (n) => void (job.progress.done += n),
          done: (note) => note && progress.note(`${label}: ${note}`),
        };
      },
      note(message) {
        job.progress.notes = [...job.progress.notes, message].slice(-KEPT_NOTES);
      },
    };
    // The job's promise is its own: nobody awaits it, and its failure is its state.
    void Promise.resolve()
      .then(() => work(progress))
      .then(
        (result) => {
          job.state = 'succeeded';
          job.result = result ?? null;
        },
        (err: unknown) => {
          job.state = 'failed';
          job.error = errorMessage(err);
        },
      )
      .finally(() => {
        job.finishedAt = new Date().toISOString();
      });
    return job;
  }

  get(id: string): StudioJob | undefined {
    return this.#jobs.get(id);
  }

  /** Newest first. */
  list(): StudioJob[] {
    return [...this.#jobs.values()].reverse();
  }

  running(kind: string): StudioJob | undefined {
    return [...this.#jobs.values()].find((j) => j.kind === kind && j.state === 'running');
  }
}
