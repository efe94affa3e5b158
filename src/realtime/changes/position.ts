/**
 * The WAL consumer's high-water mark: the commit LSN of the last transaction handed to the bus,
 * kept in PostgreSQL (realtime.trellis_change_position, src/sql/0051_realtime_changes_position.sql)
 * so that it survives what the slot's own confirmed position does not.
 *
 * Why: a logical slot's confirmed position reaches disk only at a checkpoint, so after a crash of
 * PostgreSQL the slot sends again everything since the last one (hundreds of transactions, seconds
 * later). The consumer moves this mark *before* it publishes a transaction and skips every
 * transaction at or below it, so a replay is never delivered twice: not after a crash of the
 * server, not by this process after a reconnect, not by a restarted process, not by another
 * instance elected after the crash (they all read the same row).
 *
 * The mark is written with a synchronous commit, from a connection of its own, and only while the
 * consumer's replication connection still holds the election's advisory lock (checked in the same
 * statement); the new consumer reads it with FOR UPDATE, which waits for a write still under way,
 * so a consumer that lost the election cannot move the mark past what its successor read.
 *
 * The one case it cannot decide alone: a write whose answer never came (the server died after
 * committing it). Then the transactions it covered were not published, yet the mark says they
 * were. This process remembers the write's token; if it is elected again and finds its token
 * still on the row, it goes back to the previous mark and delivers them. If another instance (or
 * a restarted process) is elected instead, they are skipped: lost, never duplicated.
 */
import crypto from 'node:crypto';
import pg from 'pg';
import { dropClient, endClient } from './connection.js';
import { formatLsn, parseLsn } from './pgoutput.js';

/** A write whose outcome is unknown; kept by the consumer across its reconnects. */
export interface InDoubtWrite {
  readonly writer: string;
  /** The mark before that write: what was really handed on. */
  readonly previous: bigint;
}

export interface PositionMemory {
  inDoubt: InDoubtWrite | undefined;
}

export interface PositionOptions {
  readonly url: string;
  readonly slot: string;
  /** The cluster's system identifier (IDENTIFY_SYSTEM on the replication connection). */
  readonly systemId: string;
  /** The replication connection's backend pid and the advisory lock it holds as the consumer. */
  readonly lockHolderPid: number;
  readonly lockKey: bigint;
  readonly memory: PositionMemory;
  readonly onRecovered?: (from: bigint, to: bigint) => void;
}

/** The mark was not moved because this consumer no longer holds the election's lock. */
export class PositionLostError extends Error {}

const QUERY_TIMEOUT_MS = 10_000;

export class HandedOnPosition {
  private constructor(
    private readonly client: pg.Client,
    private readonly options: PositionOptions,
    private lsn: bigint,
  ) {}

  /** Opens its connection and reads the mark (after any write of a previous consumer finished). */
  static async open(options: PositionOptions): Promise<HandedOnPosition> {
    const client = new pg.Client({
      connectionString: options.url,
      application_name: 'trellis-realtime-position',
      connectionTimeoutMillis: QUERY_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
      keepAlive: true,
      // Durable on this server before the transaction is published; a synchronous standby is not
      // needed (the slot does not move to a standby either).
      options: '-c synchronous_commit=local',
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query(
        `insert into realtime.trellis_change_position (slot_name, system_identifier, commit_lsn, writer) values ($1, $2, '0/0', '')
           on conflict (slot_name) do nothing`,
        [options.slot, options.systemId],
      );
      const row = (
        await client.query<{ lsn: string; system_identifier: string; writer: string }>(
          `select commit_lsn::text as lsn, system_identifier, writer from realtime.trellis_change_position where slot_name = $1 for update`,
          [options.slot],
        )
      ).rows[0];
      let lsn = row && row.system_identifier === options.systemId ? parseLsn(row.lsn) : 0n;
      const inDoubt = options.memory.inDoubt;
      options.memory.inDoubt = undefined;
      if (inDoubt && row?.writer === inDoubt.writer && lsn > inDoubt.previous) {
        options.onRecovered?.(lsn, inDoubt.previous);
        lsn = inDoubt.previous;
      }
      const position = new HandedOnPosition(client, options, lsn);
      if (row?.system_identifier !== options.systemId) await position.write(0n);
      return position;
    } catch (err) {
      await dropClient(client);
      throw err;
    }
  }

  /** The commit LSN of the last transaction handed on (0 for none). */
  handedOn(): bigint {
    return this.lsn;
  }

  /**
   * Moves the mark to `lsn` before the transactions up to it are published. Throws
   * PositionLostError when this consumer lost the election, any other error when the outcome is
   * unknown (then remembered as in doubt).
   */
  async advance(lsn: bigint): Promise<void> {
    if (lsn <= this.lsn) return;
    await this.write(lsn);
  }

  /** Moves the mark back after the bus refused what it covered (nothing of it was delivered). */
  async restore(lsn: bigint): Promise<void> {
    if (lsn < this.lsn) await this.write(lsn);
  }

  /** Bounded: on a frozen server the graceful end would wait for ever (connection.ts). */
  async close(): Promise<void> {
    await endClient(this.client);
  }

  private async write(lsn: bigint): Promise<void> {
    const writer = crypto.randomUUID();
    const previous = this.lsn;
    const key = this.options.lockKey;
    this.options.memory.inDoubt = { writer, previous };
    let updated: number;
    try {
      const result = await this.client.query(
        `update realtime.trellis_change_position
            set commit_lsn = $2::pg_lsn, system_identifier = $3, writer = $4, updated_at = now()
          where slot_name = $1
            and exists (select 1 from pg_catalog.pg_locks
                         where locktype = 'advisory' and granted and pid = $5
                           and classid = $6::oid and objid = $7::oid and objsubid = 1)`,
        [
          this.options.slot,
          formatLsn(lsn),
          this.options.systemId,
          writer,
          this.options.lockHolderPid,
          String(key >> 32n),
          String(key & 0xffffffffn),
        ],
      );
      updated = result.rowCount ?? 0;
    } catch (err) {
      // Committed or not: only a later read of the row can tell (see open()).
      this.lsn = lsn > previous ? lsn : previous;
      throw err;
    }
    this.options.memory.inDoubt = undefined;
    if (updated === 0) throw new PositionLostError('this instance is no longer the WAL consumer');
    this.lsn = lsn;
  }
}
