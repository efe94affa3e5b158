/**
 * The lock @tus/server takes on an upload for each request that writes it, shared by every worker
 * and instance on the database: a lease row in trellis.resumable_locks (0170), renewed while held.
 * A request that finds the upload locked asks the holder, over the bus, to let go (the TUS way: a
 * client that reconnects after a dropped connection must not wait for the dead request to time
 * out), and retries until the lease is free or its deadline passes.
 */
import crypto from 'node:crypto';
import { ERRORS, type Lock, type Locker, type RequestRelease } from '@tus/server';
import type { Db } from '../db/index.js';
import type { Bus } from '../platform/bus/index.js';
import type { Logger } from '../platform/logger.js';

export const RELEASE_TOPIC = 'storage:resumable-release';

export interface LeaseOptions {
  /** How long a lease lasts without renewal (a dead holder's lease runs out after it). */
  readonly leaseMs: number;
  /** How long a request waits for the lock before answering 500 (failed to acquire lock). */
  readonly waitMs: number;
}

const DEFAULTS: LeaseOptions = { leaseMs: 15_000, waitMs: 10_000 };

export function createLeaseLocker(db: Db, bus: Bus, log: Logger, options: LeaseOptions = DEFAULTS): Locker {
  /** This process's held locks, by upload id: asked to let go over the bus. */
  const held = new Map<string, RequestRelease>();
  bus.subscribe(RELEASE_TOPIC, (message) => {
    const release = held.get(String(message));
    if (release) void Promise.resolve(release()).catch((err: unknown) => log.warn({ err }, 'releasing a lock failed'));
  });
  // Leases of holders that died are taken over by id, never deleted: every 100th lock in this
  // process removes those that ran out an hour ago.
  let locks = 0;
  const onLocked = () => {
    if (++locks % 100 === 0)
      void db
        .query("delete from trellis.resumable_locks where expires_at < now() - interval '1 hour'")
        .catch((err: unknown) => log.warn({ err }, 'removing stale resumable locks failed'));
  };
  return { newLock: (id) => new LeaseLock(db, bus, id, held, options, onLocked) };
}

class LeaseLock implements Lock {
  readonly #holder = crypto.randomUUID();
  #renewal: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly bus: Bus,
    private readonly id: string,
    private readonly held: Map<string, RequestRelease>,
    private readonly options: LeaseOptions,
    private readonly onLocked: () => void,
  ) {}

  async lock(signal: AbortSignal, cancelReq: RequestRelease): Promise<void> {
    const deadline = Date.now() + this.options.waitMs;
    for (let asked = false; ;) {
      // @tus/server answers the {status_code, body} values it throws itself.
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      if (signal.aborted) throw ERRORS.ABORTED;
      if (await this.#take()) break;
      if (!asked) {
        asked = true;
        // Only a request to hurry: a bus that cannot carry it leaves the lease to run out.
        await this.bus.publish(RELEASE_TOPIC, this.id).catch(() => undefined);
      }
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      if (Date.now() > deadline) throw ERRORS.ERR_LOCK_TIMEOUT;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    this.held.set(this.id, cancelReq);
    this.onLocked();
    this.#renewal = setInterval(() => void this.#renew(), this.options.leaseMs / 3);
    this.#renewal.unref();
  }

  async unlock(): Promise<void> {
    clearInterval(this.#renewal);
    if (this.held.get(this.id) !== undefined) this.held.delete(this.id);
    await this.db.query('delete from trellis.resumable_locks where upload_id = $1 and holder = $2', [
      this.id,
      this.#holder,
    ]);
  }

  /** Takes the lease if it is free or ran out. */
  async #take(): Promise<boolean> {
    const taken = await this.db.query(
      `insert into trellis.resumable_locks (upload_id, holder, expires_at)
       values ($1, $2, now() + $3 * interval '1 millisecond')
       on conflict (upload_id) do update set holder = excluded.holder, expires_at = excluded.expires_at
         where trellis.resumable_locks.expires_at < now()
       returning holder`,
      [this.id, this.#holder, this.options.leaseMs],
    );
    return taken.rowCount === 1;
  }

  async #renew(): Promise<void> {
    await this.db
      .query(
        `update trellis.resumable_locks set expires_at = now() + $3 * interval '1 millisecond'
         where upload_id = $1 and holder = $2`,
        [this.id, this.#holder, this.options.leaseMs],
      )
      .catch(() => undefined);
  }
}
