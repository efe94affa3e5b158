/**
 * Studio's backup buttons: start a backup and restore one, over the code `trellis backup` and
 * `trellis restore` run (src/backup), each as a job polled at GET /jobs/:id. As with the CLI, a
 * restore never overwrites the running project: a pg_dump backup (DATABASE_URL) goes into an empty
 * database, an embedded one into a new project folder beside this one, which `trellis start --dir`
 * then serves.
 */
import path from 'node:path';
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import {
  BACKUP_ID,
  createBackup,
  dumpServer,
  listBackups,
  openTarget,
  parseRestoreTime,
  prepareEmptyDir,
  restoreBackup,
  restoreDump,
  type BackupTarget,
} from '../backup/index.js';
import type { Config } from '../config.js';
import { ApiError, describeFatal, FatalError } from '../errors.js';
import type { HttpEnv } from '../platform/http.js';
import { respondJson } from '../platform/json.js';
import { StudioJobs, type StudioJob } from './jobs.js';
import type { StudioRuntime } from './runtime.js';

/** A new project folder's name: one path segment, no dot first (no `..`, no hidden folder). */
const FOLDER = /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;
const POSTGRES_URL = /^postgres(ql)?:\/\/[^\s]+$/;

export const backupBody = z.object({ label: z.string().min(1).max(200).optional() }).strict();
export const restoreBody = z
  .object({
    confirm: z.string().max(64).optional(),
    databaseUrl: z.string().max(2048).optional(),
    folder: z.string().max(64).optional(),
    /** An embedded backup's point in time (ISO-8601 with a zone), as `trellis restore --to-time`; default: the latest archived. */
    toTime: z.string().max(64).optional(),
  })
  .strict();

/** A FatalError of the backup code is the caller's problem (a 4xx); anything else stays itself. */
const asApiError = (status: number) => (err: unknown) => {
  if (err instanceof FatalError) throw new ApiError(status, 'backup_refused', describeFatal(err));
  throw err;
};

async function withTarget<T>(config: Config, mustExist: boolean, work: (t: BackupTarget) => Promise<T>): Promise<T> {
  const target = await openTarget(config.backup.target, config.backup.s3, mustExist, 'BACKUP_TARGET').catch(
    asApiError(409),
  );
  try {
    return await work(target);
  } finally {
    await target.close();
  }
}

const jobView = (job: StudioJob) => ({ ...job, progress: { ...job.progress } });

export function backupRoutes(
  app: Hono<HttpEnv>,
  config: Config,
  runtime: StudioRuntime,
  readBody: <S extends z.ZodType>(c: Context, schema: S) => Promise<z.output<S>>,
): void {
  const jobs = new StudioJobs();

  app.post('/backups', async (c) => {
    const { label } = await readBody(c, backupBody);
    const busy = jobs.running('backup');
    if (busy) throw new ApiError(409, 'backup_running', `backup job ${busy.id} is still running`);
    const job = jobs.start('backup', { where: config.backup.target, label: label ?? null }, (progress) =>
      withTarget(config, false, async (target) => {
        const manifest = config.databaseUrl
          ? await dumpServer(config.databaseUrl, target, progress, label)
          : await createBackup({ config, dbUrl: runtime.databaseUrl, target, progress, label });
        return { backup: manifest.id, kind: manifest.kind, stopTime: manifest.stopTime };
      }),
    );
    return respondJson(c, { job: jobView(job) }, 202);
  });

  app.post('/backups/:id/restore', async (c) => {
    const id = c.req.param('id');
    if (!BACKUP_ID.test(id))
      throw new ApiError(400, 'validation_failed', 'a backup id is a UTC time like 20261202T011500123Z');
    const body = await readBody(c, restoreBody);
    if (body.confirm !== id)
      throw new ApiError(
        400,
        'confirmation_required',
        `a restore needs "confirm": "${id}" in the body (the backup id, repeated)`,
      );
    const found = await withTarget(config, true, async (target) =>
      (await listBackups(target)).find((b) => b.id === id),
    );
    if (!found) throw new ApiError(404, 'backup_not_found', `no backup ${id} in ${config.backup.target}`);
    if (!found.complete || !found.manifest)
      throw new ApiError(409, 'backup_incomplete', `backup ${id} is incomplete; it cannot be restored`);
    const manifest = found.manifest;
    const time = body.toTime === undefined ? undefined : parseRestoreTime(body.toTime, new Date());
    if (typeof time === 'string') throw new ApiError(400, 'validation_failed', `toTime: ${time}`);
    let into: { databaseUrl: string } | { dir: string };
    if (manifest.kind === 'pg_dump') {
      if (body.folder !== undefined)
        throw new ApiError(400, 'validation_failed', `backup ${id} is a pg_dump: restore it into "databaseUrl"`);
      if (time !== undefined)
        throw new ApiError(400, 'validation_failed', `backup ${id} is a pg_dump: it has no point in time to choose`);
      if (body.databaseUrl === undefined || !POSTGRES_URL.test(body.databaseUrl))
        throw new ApiError(
          400,
          'validation_failed',
          'databaseUrl must be the postgres:// URL of an empty database to restore the pg_dump into',
        );
      into = { databaseUrl: body.databaseUrl };
    } else {
      if (body.databaseUrl !== undefined)
        throw new ApiError(
          400,
          'validation_failed',
          `backup ${id} is of an embedded database: restore it into "folder"`,
        );
      if (body.folder === undefined || !FOLDER.test(body.folder))
        throw new ApiError(
          400,
          'validation_failed',
          'folder must be the name of a new project folder beside this one (letters, digits, _, - and inner dots)',
        );
      into = { dir: path.join(path.dirname(config.dir), body.folder) };
    }
    const subject = { backup: id, ...('dir' in into ? { dir: into.dir } : { database: 'databaseUrl' }) };
    const job = jobs.start('restore', subject, (progress) =>
      withTarget(config, true, async (target) => {
        if ('databaseUrl' in into) {
          await restoreDump(
            manifest as Extract<typeof manifest, { kind: 'pg_dump' }>,
            target,
            into.databaseUrl,
            progress,
          );
          return { backup: id };
        }
        await prepareEmptyDir(into.dir);
        const report = await restoreBackup({ config, target, id, time, dir: into.dir, progress });
        return { ...report, dir: into.dir };
      }),
    );
    return respondJson(c, { job: jobView(job) }, 202);
  });

  app.get('/jobs', (c) => respondJson(c, { jobs: jobs.list().map(jobView) }));
  app.get('/jobs/:id', (c) => {
    const job = jobs.get(c.req.param('id'));
    if (!job) throw new ApiError(404, 'job_not_found', 'no such job (jobs are kept in memory until a restart)');
    return respondJson(c, { job: jobView(job) });
  });
}
