/**
 * PostgreSQL's own backup machinery, spoken over plain connections: the low-level base backup API
 * (pg_backup_start/stop, PostgreSQL 15+), WAL switches and the archiver's progress, and an exported
 * snapshot from a temporary logical replication slot, which gives the exact consistency point a
 * verification compares against.
 */
import pg from 'pg';

export interface BackupStart {
  readonly startLsn: string;
  /** WAL segment that holds the start LSN; restore needs it and every segment after it. */
  readonly startWal: string;
  readonly timeline: number;
}

export interface BackupStop {
  readonly stopLsn: string;
  readonly stopWal: string;
  /** The backup_label file's text: without it, recovery would start from the wrong checkpoint. */
  readonly labelFile: string;
  /** tablespace_map's text ('' when the cluster has no tablespace). */
  readonly spcmapFile: string;
}

/** Starts a non-exclusive base backup; it lasts as long as `client`'s session does. */
export async function startBaseBackup(client: pg.ClientBase, label: string): Promise<BackupStart> {
  const { rows } = await client.query<{ lsn: string; wal: string; timeline: number }>(
    `select lsn::text as lsn, pg_walfile_name(lsn) as wal,
            (select timeline_id from pg_control_checkpoint()) as timeline
       from pg_backup_start($1, fast => true) as lsn`,
    [label],
  );
  const row = rows[0]!;
  return { startLsn: row.lsn, startWal: row.wal, timeline: Number(row.timeline) };
}

/** Ends the base backup once its last WAL segment is archived. */
export async function stopBaseBackup(client: pg.ClientBase): Promise<BackupStop> {
  const { rows } = await client.query<{ lsn: string; wal: string; labelfile: string; spcmapfile: string }>(
    `select lsn::text as lsn, pg_walfile_name(lsn) as wal, labelfile, spcmapfile
       from pg_backup_stop(wait_for_archive => true)`,
  );
  const row = rows[0]!;
  return { stopLsn: row.lsn, stopWal: row.wal, labelFile: row.labelfile, spcmapFile: row.spcmapfile ?? '' };
}

export interface ArchiverStatus {
  readonly archivedCount: number;
  readonly lastArchivedWal: string | undefined;
  readonly lastArchivedTime: Date | undefined;
  readonly failedCount: number;
  readonly lastFailedWal: string | undefined;
  /** The segment being written now. */
  readonly currentWal: string;
}

export async function archiverStatus(client: pg.ClientBase): Promise<ArchiverStatus> {
  const { rows } = await client.query<{
    archived_count: string;
    last_archived_wal: string | null;
    last_archived_time: Date | null;
    failed_count: string;
    last_failed_wal: string | null;
    current_wal: string;
  }>(
    `select archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal,
            pg_walfile_name(pg_current_wal_lsn()) as current_wal
       from pg_stat_archiver`,
  );
  const r = rows[0]!;
  return {
    archivedCount: Number(r.archived_count),
    lastArchivedWal: r.last_archived_wal ?? undefined,
    lastArchivedTime: r.last_archived_time ?? undefined,
    failedCount: Number(r.failed_count),
    lastFailedWal: r.last_failed_wal ?? undefined,
    currentWal: r.current_wal,
  };
}

/** The segment that holds the WAL just before `lsn` (what a recovery to `lsn` needs last). */
export async function walFileOf(client: pg.ClientBase, lsn: string): Promise<string> {
  const { rows } = await client.query<{ wal: string }>('select pg_walfile_name($1::pg_lsn) as wal', [lsn]);
  return rows[0]!.wal;
}

/** Closes the current segment so the archiver takes it (no-op when nothing was written since the last switch). */
export async function switchWal(client: pg.ClientBase): Promise<void> {
  await client.query('select pg_switch_wal()');
}

export interface ExportedSnapshot {
  /** Every transaction committed before this LSN is in the snapshot, none after. */
  readonly consistentLsn: string;
  readonly snapshotName: string;
  /** Ends the replication session (the temporary slot and the snapshot go with it). */
  close(): Promise<void>;
}

/**
 * A snapshot whose exact WAL position is known: a temporary logical slot's consistent point. The
 * snapshot stays importable (SET TRANSACTION SNAPSHOT) until close().
 */
export async function exportSnapshotAtLsn(url: string, slotName: string): Promise<ExportedSnapshot> {
  const replication = new pg.Client({ connectionString: url, replication: 'database' } as pg.ClientConfig);
  replication.on('error', () => undefined);
  await replication.connect();
  try {
    // The slot name is ours (letters, digits, underscores), and the replication protocol takes no parameters.
    if (!/^[a-z0-9_]{1,63}$/.test(slotName)) throw new Error(`bad slot name ${slotName}`);
    const result = await replication.query(
      `CREATE_REPLICATION_SLOT ${slotName} TEMPORARY LOGICAL pgoutput (SNAPSHOT 'export')`,
    );
    const row = result.rows[0] as { consistent_point: string; snapshot_name: string };
    return {
      consistentLsn: row.consistent_point,
      snapshotName: row.snapshot_name,
      close: () => replication.end(),
    };
  } catch (err) {
    await replication.end().catch(() => undefined);
    throw err;
  }
}

/** Enters `snapshotName` on `client` in a new REPEATABLE READ transaction (the caller commits). */
export async function beginInSnapshot(client: pg.ClientBase, snapshotName: string): Promise<void> {
  await client.query('begin isolation level repeatable read, read only');
  await client.query(`set transaction snapshot '${snapshotName.replace(/'/g, "''")}'`);
}

/** Whether the server is still replaying WAL (a restore in progress). */
export async function inRecovery(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ r: boolean }>('select pg_is_in_recovery() as r');
  return rows[0]!.r;
}

export async function serverVersion(client: pg.ClientBase): Promise<string> {
  const { rows } = await client.query<{ v: string }>("select current_setting('server_version') as v");
  return rows[0]!.v;
}

/**
 * The cluster's system identifier (fixed at initdb, kept by a physical copy): WAL of two clusters
 * shares segment names, so shipped WAL is kept apart by it.
 */
export async function systemIdentifier(client: pg.ClientBase): Promise<string> {
  const { rows } = await client.query<{ id: string }>('select system_identifier::text as id from pg_control_system()');
  return rows[0]!.id;
}

/** An advisory lock key of our own: one backup (or prune) at a time per cluster. */
export const BACKUP_LOCK_KEY = 7_424_551_233_001n;

export async function tryBackupLock(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1::bigint) as ok', [
    BACKUP_LOCK_KEY.toString(),
  ]);
  return rows[0]!.ok;
}

export async function releaseBackupLock(client: pg.ClientBase): Promise<void> {
  await client.query('select pg_advisory_unlock($1::bigint)', [BACKUP_LOCK_KEY.toString()]);
}

export interface IndexCheck {
  readonly index: string;
  /** schema.table of the indexed table. */
  readonly table: string;
  readonly error?: string;
}

/**
 * amcheck's bt_index_check on every B-tree index outside the system schemas (an AccessShareLock
 * each: for a scratch cluster, where verify creates the extension). A partitioned table's index
 * holds no entries (relkind 'I', which amcheck refuses): its partitions' indexes are checked.
 */
export async function checkBtreeIndexes(client: pg.ClientBase): Promise<IndexCheck[]> {
  await client.query('create extension if not exists amcheck');
  const { rows } = await client.query<{ oid: number; index: string; schema: string; table: string }>(
    `select c.oid::int as oid, c.relname as index, n.nspname as schema, t.relname as table
       from pg_index i
       join pg_class c on c.oid = i.indexrelid
       join pg_class t on t.oid = i.indrelid
       join pg_namespace n on n.oid = t.relnamespace
       join pg_am a on a.oid = c.relam
      where a.amname = 'btree' and c.relkind = 'i' and c.relpersistence = 'p' and i.indisvalid
        and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
      order by 3, 4, 2`,
  );
  const out: IndexCheck[] = [];
  for (const r of rows) {
    try {
      await client.query('select bt_index_check($1::oid)', [r.oid]);
      out.push({ index: r.index, table: `${r.schema}.${r.table}` });
    } catch (err) {
      out.push({ index: r.index, table: `${r.schema}.${r.table}`, error: (err as Error).message });
    }
  }
  return out;
}
