/**
 * The WAL consumer: one per cluster at a time. It opens a replication connection, takes a session
 * advisory lock on it (so the lock dies with the stream), makes sure the database's persistent
 * logical slot exists, and streams `pgoutput` from it. Each committed transaction goes to the bus;
 * only after the bus took it is its LSN confirmed to the slot, so a restart resumes from the first
 * transaction not yet handed on. Before it goes to the bus, the high-water mark in PostgreSQL
 * (position.ts) moves to its commit LSN, and a transaction at or below the mark is never published
 * again: after a crash the slot's confirmation falls back to the last checkpoint and PostgreSQL
 * sends those transactions once more. The other instances retry the lock every `retryMs` and take
 * over when the holder's connection ends.
 *
 * A frozen server (SIGSTOP, a black-holed network) must not hang the feed: the connect and every
 * setup statement have deadlines, and the stream has one of its own (`timeoutMs`): the consumer
 * asks the server for a keepalive whenever it has been quiet, and a stream on which nothing at
 * all arrives for `timeoutMs` is dropped and set up again through the same election. TCP
 * keepalive is on too, for a peer that vanished, but a frozen server's kernel still answers it:
 * the stream's deadline is what notices a freeze.
 */
import crypto from 'node:crypto';
import pg from 'pg';
import { errorMessage } from '../../errors.js';
import type { Bus } from '../../platform/bus/index.js';
import type { Logger } from '../../platform/logger.js';
import { TransactionAssembler, type Committed } from './assembler.js';
import { PUBLICATION } from './catalog.js';
import { dropClient, endClient } from './connection.js';
import { decodePgOutput, formatLsn } from './pgoutput.js';
import { HandedOnPosition, type PositionMemory } from './position.js';
import { encodeTableChanges, TABLE_CHANGES_TOPIC } from '../../platform/table-changes.js';
import { CHANGES_TOPIC, encodeBatch, tableChangesOf } from './wire.js';

export interface ConsumerOptions {
  /** A URL whose user may open replication connections (superuser or REPLICATION). */
  readonly url: string;
  readonly bus: Bus;
  readonly log: Logger;
  /** How often a standby instance tries to become the consumer. */
  readonly retryMs: number;
  /**
   * A stream on which nothing arrives from the server for this long is dropped and set up again
   * (REALTIME_REPLICATION_TIMEOUT_MS); also the deadline of each setup statement.
   */
  readonly timeoutMs: number;
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
// Making the slot waits for every transaction running at that moment to end (PostgreSQL must see
// a consistent snapshot first), so a long transaction legitimately holds it up. Bounded all the
// same (a frozen server never answers), generously: past it the attempt fails and is retried.
const SLOT_CREATION_TIMEOUT_MS = 120_000;
// TCP keepalive on the replication socket: finds a peer that is gone (a host down, a NAT that
// forgot the flow) while the stream is idle. Not a freeze: see the stream's deadline.
const KEEPALIVE_DELAY_MS = 10_000;

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

  // The mark's write whose answer never came, kept across this consumer's reconnects (position.ts).
  const memory: PositionMemory = { inDoubt: undefined };
  let position: HandedOnPosition | undefined;

  const attempt = async () => {
    if (stopped) return;
    const next = new pg.Client({
      connectionString: options.url,
      replication: 'database',
      application_name: 'trellis-realtime',
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
    } as pg.ClientConfig);
    next.on('error', () => undefined);
    // Known to close() from the start, so that a connect to a frozen server ends with it.
    client = next;
    // A setup statement past its deadline leaves the connection mid-query: the catch below drops it.
    const query = <R extends pg.QueryResultRow>(text: string, timeoutMs = options.timeoutMs) =>
      next.query<R>({ text, query_timeout: timeoutMs } as pg.QueryConfig);
    try {
      await next.connect();
      const locked = (await query<{ l: boolean }>(`select pg_try_advisory_lock(${LOCK_KEY}) as l`)).rows[0]?.l === true;
      if (!locked || stopped) {
        failure = undefined;
        settleFirst();
        await endClient(next);
        client = undefined;
        schedule();
        return;
      }
      const database = (await query<{ d: string }>('select current_database() as d')).rows[0]?.d ?? '';
      const slot = slotName(database);
      const exists =
        ((await query(`select 1 from pg_catalog.pg_replication_slots where slot_name = '${slot}'`)).rowCount ?? 0) > 0;
      if (!exists) {
        await query(
          `select pg_catalog.pg_create_logical_replication_slot('${slot}', 'pgoutput')`,
          Math.max(SLOT_CREATION_TIMEOUT_MS, options.timeoutMs),
        );
        options.log.info({ slot }, 'realtime: created the logical replication slot');
      }
      const systemId = (await query<{ systemid: string }>('IDENTIFY_SYSTEM')).rows[0]?.systemid ?? '';
      const pid = (await query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid ?? 0;
      position = await HandedOnPosition.open({
        url: options.url,
        slot,
        systemId,
        lockHolderPid: pid,
        lockKey: BigInt(LOCK_KEY),
        memory,
        onRecovered: (from, to) =>
          options.log.warn(
            { from: formatLsn(from), to: formatLsn(to) },
            'realtime: the last high-water mark write was never answered and did commit; resending from before it',
          ),
      });
      // close() may have come while this connection was being set up: it ends here, not later.
      if (stopped) throw new Error('closed');
      leader = true;
      failure = undefined;
      options.log.info({ slot, handedOn: formatLsn(position.handedOn()) }, 'realtime: this instance reads the WAL');
      await stream(
        next,
        slot,
        options,
        position,
        () => stopped,
        settleFirst,
        (confirm) => (confirmNow = confirm),
      );
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
    // Whatever ended the attempt, this connection is done: nothing graceful is owed to a server
    // that may be frozen (and the advisory lock goes with the session either way).
    await dropClient(next);
    await position?.close();
    position = undefined;
    schedule();
  };
  let current: Promise<void> = Promise.resolve();
  const schedule = () => {
    // attempt() settles its own failures (logged, then retried); close() awaits the one under way.
    if (!stopped)
      timer = setTimeout(() => {
        current = attempt();
      }, options.retryMs);
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
      // Graceful when the server answers (the confirmation above reaches it first), dropped when
      // it does not: a frozen server must not hold up the shutdown.
      if (client) await endClient(client);
      // An attempt under way (connecting, taking the lock) fails at once and ends its connection.
      await current;
    },
  };
}

/**
 * Streams until the connection ends; resolves then, rejects on a stream error or when the server
 * stayed silent past the deadline (the connection is dropped then).
 */
function stream(
  client: pg.Client,
  slot: string,
  options: ConsumerOptions,
  position: HandedOnPosition,
  stopped: () => boolean,
  onStreaming: () => void,
  exposeConfirm: (confirm: () => void) => void,
): Promise<void> {
  const connection = (client as unknown as { connection: ReplicationConnection }).connection;
  const assembler = new TransactionAssembler(options.onRelation);
  let received = 0n; // the end of the WAL the server has sent
  let confirmed = 0n; // published to the bus
  // After a failed publish nothing more is confirmed on this stream (a later transaction must not
  // confirm past the failed one): the stream ends and the slot sends both again.
  let failed = false;
  let ended = false;
  // Committed transactions wait here and are handed on in groups: one write of the high-water
  // mark (position.ts) covers every transaction that arrived while the previous group was out.
  const queue: Committed[] = [];
  let draining: Promise<void> | undefined;

  const sendStatus = (reply = false) => {
    if (failed) return;
    // With nothing waiting to be published, everything sent so far is handed on: confirm it all,
    // so the slot does not hold WAL written by other databases or unpublished tables.
    const flushed =
      queue.length === 0 && draining === undefined && !assembler.inTransaction() && received > confirmed
        ? received
        : confirmed;
    const buf = Buffer.alloc(34);
    buf.write('r', 0);
    buf.writeBigUInt64BE(received, 1);
    buf.writeBigUInt64BE(flushed, 9);
    buf.writeBigUInt64BE(flushed, 17);
    buf.writeBigInt64BE(BigInt(Date.now() - 946_684_800_000) * 1000n, 25);
    buf.writeUInt8(reply ? 1 : 0, 33);
    connection.sendCopyFromChunk(buf);
  };

  const drain = () => {
    draining ??= drainQueue().finally(() => (draining = undefined));
  };
  const drainQueue = async () => {
    try {
      // Once the stream ended, what is left is not handed on: the next stream sends it again.
      while (queue.length > 0 && !failed && !ended) {
        const group = queue.splice(0);
        await handOn(group);
        const last = group.at(-1);
        if (last && last.endLsn > confirmed) confirmed = last.endLsn;
        if (!stopped()) sendStatus();
      }
    } catch (err) {
      failed = true;
      options.log.error({ err: errorMessage(err) }, 'realtime: handing a change on failed; restarting the stream');
      void client.end();
    }
  };

  // At or below the mark: handed on before (a replay after a crash, or a resend after a
  // reconnect): confirmed to the slot again, never published again.
  const handOn = async (group: readonly Committed[]) => {
    const fresh = group.filter(
      (c) => c.commitLsn > position.handedOn() && (c.batch.changes.length > 0 || c.truncated.length > 0),
    );
    const last = fresh.at(-1);
    if (!last) return;
    const previous = position.handedOn();
    // The mark moves first: a crash between the two loses these transactions rather than sends them twice.
    await position.advance(last.commitLsn);
    let done = previous; // the last transaction whose every part the bus took
    for (let i = 0; i < fresh.length; i++) {
      const c = fresh[i] as Committed;
      try {
        // One notice per transaction, before its first part: if a part then fails, both are sent
        // again, and a cache forgets twice.
        if (fresh[i - 1]?.commitLsn !== c.commitLsn) {
          const parts = fresh.filter((p) => p.commitLsn === c.commitLsn).map((p) => p.batch);
          await options.bus.publish(TABLE_CHANGES_TOPIC, encodeTableChanges(tableChangesOf(parts, c.truncated)));
        }
        if (c.batch.changes.length > 0) await options.bus.publish(CHANGES_TOPIC, encodeBatch(c.batch));
      } catch (err) {
        // Nothing from here on reached the bus: the mark goes back so that the stream's restart sends it.
        await position.restore(done).catch(() => undefined);
        throw err;
      }
      if (fresh[i + 1]?.commitLsn !== c.commitLsn) done = c.commitLsn;
    }
  };

  // The stream's deadline. An idle walsender sends a keepalive only every wal_sender_timeout / 2
  // since the client last wrote, which the status updates below keep putting off; so whenever the
  // server has been quiet for a tick the update asks for a reply, and a server that still sends
  // nothing for `timeoutMs` is taken as frozen or unreachable.
  let heard = Date.now();
  const tick = Math.max(100, Math.min(STATUS_INTERVAL_MS, Math.floor(options.timeoutMs / 3)));
  let silence: Error | undefined;
  // Status updates are CopyData: only once the server is in COPY mode.
  let streaming = false;
  const onSilence: { fail?: (err: Error) => void } = {};

  connection.on('copyData', (msg: { chunk: Buffer }) => {
    heard = Date.now();
    try {
      const chunk = msg.chunk;
      const kind = chunk[0];
      if (kind === 0x77 /* w: XLogData */) {
        const end = chunk.readBigUInt64BE(9);
        if (end > received) received = end;
        const committed = assembler.push(decodePgOutput(chunk.subarray(25)));
        if (committed) {
          queue.push(...committed);
          drain();
        }
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
    streaming = true;
    heard = Date.now();
    exposeConfirm(() => sendStatus());
    onStreaming();
  });
  const status = setInterval(() => {
    const quiet = Date.now() - heard;
    if (quiet >= options.timeoutMs) {
      silence ??= new Error(
        `no message from PostgreSQL on the replication connection for ${quiet} ms (REALTIME_REPLICATION_TIMEOUT_MS is ${options.timeoutMs}); reconnecting`,
      );
      onSilence.fail?.(silence);
      void dropClient(client);
      return;
    }
    if (!streaming) return;
    try {
      // Asked on every tick but the busiest: the server answers within a round trip, so a live
      // server is never quiet for much more than a tick, a third of the deadline.
      sendStatus(quiet >= tick / 2);
    } catch {
      // The socket is going: 'end' follows.
    }
  }, tick);
  return new Promise<void>((resolve, reject) => {
    onSilence.fail = reject;
    client
      .query(`START_REPLICATION SLOT ${slot} LOGICAL 0/0 (proto_version '1', publication_names '${PUBLICATION}')`)
      .then(
        () => resolve(),
        (err: unknown) =>
          stopped() ? resolve() : reject(silence ?? (err instanceof Error ? err : new Error(String(err)))),
      )
      .finally(() => clearInterval(status));
    client.once('end', () => {
      clearInterval(status);
      if (silence && !stopped()) reject(silence);
      else resolve();
    });
  })
    .finally(() => {
      ended = true;
      // A mark write under way finishes before the caller closes the mark's connection.
      return draining;
    })
    .finally(() => options.log.debug({ slot, confirmed: formatLsn(confirmed) }, 'realtime: WAL stream ended'));
}

interface ReplicationConnection {
  on(event: 'copyData', listener: (msg: { chunk: Buffer }) => void): void;
  once(event: 'replicationStart', listener: () => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
}
