/**
 * The WAL consumer: one per cluster at a time. It opens a replication connection, takes a session
 * advisory lock on it (so the lock dies with the stream), makes sure the database's persistent
 * logical slot exists, and streams `pgoutput` from it. Each committed transaction goes to the bus;
 * only after the bus took it is its LSN confirmed to the slot, so a restart resumes from the first
 * transaction not yet handed on. The other instances retry the lock every `retryMs` and take over
 * when the holder's connection ends.
 */
import crypto from 'node:crypto';
import pg from 'pg';
import { errorMessage } from '../../errors.js';
import type { Bus } from '../../platform/bus/index.js';
import type { Logger } from '../../platform/logger.js';
import { TransactionAssembler, type Committed } from './assembler.js';
import { PUBLICATION } from './catalog.js';
import { decodePgOutput, formatLsn } from './pgoutput.js';
import { CHANGES_TOPIC, encodeBatch } from './wire.js';

export interface ConsumerOptions {
  /** A URL whose user may open replication connections (superuser or REPLICATION). */
  readonly url: string;
  readonly bus: Bus;
  readonly log: Logger;
  /** How often a standby instance tries to become the consumer. */
  readonly retryMs: number;
  /** Told when a table's shape arrives (its cached catalog entry is stale). */
  readonly onRelation?: (schema: string, table: string) => void;
}

export interface WalConsumer {
  /** Settles after the first try to become the consumer (streaming, standing by, or failed). */
  readonly firstAttempt: Promise<void>;
  isLeader(): boolean;
  /** The last failure to start streaming (not "another instance holds the lock"), cleared on success. */
  lastError(): string | undefined;
  close(): Promise<void>;
}

/** The slot's name: slots belong to the whole server, so it carries the database's. */
export function slotName(database: string): string {
  return `trellis_realtime_${crypto.createHash('sha256').update(database).digest('hex').slice(0, 16)}`;
}

// pg_advisory_lock key for the consumer of this database (advisory locks are per database).
const LOCK_KEY = '32772479246854517';
const STATUS_INTERVAL_MS = 10_000;
const CONNECT_TIMEOUT_MS = 5000;

export function startWalConsumer(options: ConsumerOptions): WalConsumer {
  let stopped = false;
  let leader = false;
  let failure: string | undefined;
  let client: pg.Client | undefined;
  // Sends the slot the position handed on so far (set while streaming).
  let confirmNow: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let settleFirst: () => void = () => undefined;
  const firstAttempt = new Promise<void>((resolve) => (settleFirst = resolve));

  const attempt = async () => {
    if (stopped) return;
    const next = new pg.Client({ connectionString: options.url, replication: 'database', application_name: 'trellis-realtime', connectionTimeoutMillis: CONNECT_TIMEOUT_MS } as pg.ClientConfig);
    next.on('error', () => undefined);
    try {
      await next.connect();
      client = next;
      const locked = (await next.query<{ l: boolean }>(`select pg_try_advisory_lock(${LOCK_KEY}) as l`)).rows[0]?.l === true;
      if (!locked || stopped) {
        failure = undefined;
        settleFirst();
        await next.end().catch(() => undefined);
        client = undefined;
        schedule();
        return;
      }
      const database = (await next.query<{ d: string }>('select current_database() as d')).rows[0]?.d ?? '';
      const slot = slotName(database);
      const exists = ((await next.query(`select 1 from pg_catalog.pg_replication_slots where slot_name = '${slot}'`)).rowCount ?? 0) > 0;
      if (!exists) {
        await next.query(`select pg_catalog.pg_create_logical_replication_slot('${slot}', 'pgoutput')`);
        options.log.info({ slot }, 'realtime: created the logical replication slot');
      }
      // close() may have come while this connection was being set up: it ends here, not later.
      if (stopped) throw new Error('closed');
      leader = true;
      failure = undefined;
      options.log.info({ slot }, 'realtime: this instance reads the WAL');
      await stream(next, slot, options, () => stopped, settleFirst, (confirm) => (confirmNow = confirm));
      confirmNow = undefined;
    } catch (err) {
      if (!stopped) {
        failure = errorMessage(err);
        options.log.warn({ err: failure }, 'realtime: the WAL consumer stopped; retrying');
      }
    }
    settleFirst();
    leader = false;
    client = undefined;
    await next.end().catch(() => undefined);
    schedule();
  };
  let current: Promise<void> = Promise.resolve();
  const schedule = () => {
    if (!stopped) timer = setTimeout(() => (current = attempt()), options.retryMs);
  };
  current = attempt();

  return {
    firstAttempt,
    isLeader: () => leader,
    lastError: () => failure,
    close: async () => {
      stopped = true;
      clearTimeout(timer);
      // What was handed to the bus is confirmed before the connection goes, so the next consumer
      // does not deliver it again.
      try {
        confirmNow?.();
      } catch {
        // The connection is already gone: the next consumer resumes from the last confirmation.
      }
      await client?.end().catch(() => undefined);
      // An attempt under way (connecting, taking the lock) finishes and ends its connection.
      await current;
    },
  };
}

/** Streams until the connection ends; resolves then, rejects on a stream error. */
function stream(
  client: pg.Client,
  slot: string,
  options: ConsumerOptions,
  stopped: () => boolean,
  onStreaming: () => void,
  exposeConfirm: (confirm: () => void) => void,
): Promise<void> {
  const connection = (client as unknown as { connection: ReplicationConnection }).connection;
  const assembler = new TransactionAssembler(options.onRelation);
  let received = 0n; // the end of the WAL the server has sent
  let confirmed = 0n; // published to the bus
  let inFlight = 0;
  let publishing: Promise<void> = Promise.resolve();
  // After a failed publish nothing more is confirmed on this stream (a later transaction must not
  // confirm past the failed one): the stream ends and the slot sends both again.
  let failed = false;

  const sendStatus = (reply = false) => {
    if (failed) return;
    // With nothing waiting to be published, everything sent so far is handed on: confirm it all,
    // so the slot does not hold WAL written by other databases or unpublished tables.
    const flushed = inFlight === 0 && !assembler.inTransaction() && received > confirmed ? received : confirmed;
    const buf = Buffer.alloc(34);
    buf.write('r', 0);
    buf.writeBigUInt64BE(received, 1);
    buf.writeBigUInt64BE(flushed, 9);
    buf.writeBigUInt64BE(flushed, 17);
    buf.writeBigInt64BE(BigInt(Date.now() - 946_684_800_000) * 1000n, 25);
    buf.writeUInt8(reply ? 1 : 0, 33);
    connection.sendCopyFromChunk(buf);
  };

  const publish = (committed: Committed[]) => {
    inFlight++;
    publishing = publishing
      .then(async () => {
        if (failed) return;
        for (const c of committed) if (c.batch.changes.length > 0) await options.bus.publish(CHANGES_TOPIC, encodeBatch(c.batch));
        const last = committed.at(-1);
        if (last && last.endLsn > confirmed) confirmed = last.endLsn;
      })
      .catch((err: unknown) => {
        failed = true;
        options.log.error({ err: errorMessage(err) }, 'realtime: publishing a change failed; restarting the stream');
        void client.end();
      })
      .finally(() => {
        inFlight--;
        if (!stopped() && !failed) sendStatus();
      });
  };

  connection.on('copyData', (msg: { chunk: Buffer }) => {
    try {
      const chunk = msg.chunk;
      const kind = chunk[0];
      if (kind === 0x77 /* w: XLogData */) {
        const end = chunk.readBigUInt64BE(9);
        if (end > received) received = end;
        const committed = assembler.push(decodePgOutput(chunk.subarray(25)));
        if (committed) publish(committed);
      } else if (kind === 0x6b /* k: keepalive */) {
        const end = chunk.readBigUInt64BE(1);
        if (end > received) received = end;
        if (chunk[17] === 1) sendStatus();
      }
    } catch (err) {
      // Nothing after this message is confirmed: the slot sends it again after the reconnect.
      options.log.error({ err: errorMessage(err) }, 'realtime: cannot decode the WAL stream; restarting it');
      void client.end();
    }
  });
  connection.once('replicationStart', () => {
    exposeConfirm(() => sendStatus());
    onStreaming();
  });
  const status = setInterval(() => sendStatus(), STATUS_INTERVAL_MS);
  return new Promise<void>((resolve, reject) => {
    client
      .query(`START_REPLICATION SLOT ${slot} LOGICAL 0/0 (proto_version '1', publication_names '${PUBLICATION}')`)
      .then(() => resolve(), (err: unknown) => (stopped() ? resolve() : reject(err instanceof Error ? err : new Error(String(err)))))
      .finally(() => clearInterval(status));
    client.once('end', () => {
      clearInterval(status);
      resolve();
    });
  }).finally(() => options.log.debug({ slot, confirmed: formatLsn(confirmed) }, 'realtime: WAL stream ended'));
}

interface ReplicationConnection {
  on(event: 'copyData', listener: (msg: { chunk: Buffer }) => void): void;
  once(event: 'replicationStart', listener: () => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
}
