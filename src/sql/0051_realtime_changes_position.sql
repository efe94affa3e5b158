-- The WAL consumer's high-water mark (src/realtime/changes/position.ts): the commit LSN of the last
-- transaction it handed to the bus, per replication slot. A logical slot's confirmed position is
-- kept in PostgreSQL's memory and written to disk only at checkpoints, so after a crash of the
-- server the slot sends again every transaction since the last checkpoint. The consumer writes
-- this row (an ordinary, WAL-logged, synchronously committed update) before it hands a transaction
-- on, and skips every transaction whose commit LSN is not above it: a replay is never delivered
-- twice, whichever instance is the consumer after the crash.
create table if not exists realtime.trellis_change_position (
  slot_name text primary key,
  -- The cluster's system identifier (IDENTIFY_SYSTEM): a copy of this row restored into another
  -- cluster, whose LSNs mean something else, is ignored there.
  system_identifier text not null,
  commit_lsn pg_lsn not null,
  -- A token per write: lets a consumer whose write's outcome it never learnt (the server died
  -- before answering) tell whether that write was the last one.
  writer text not null,
  updated_at timestamptz not null default now()
);

-- Only the server login (the consumer) reads and writes it.
revoke all on realtime.trellis_change_position from public, anon, authenticated, service_role;
