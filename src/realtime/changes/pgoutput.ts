/**
 * A decoder for the messages of PostgreSQL's built-in logical decoding plugin `pgoutput`
 * (protocol version 1, text-format values), as they arrive inside XLogData on a replication
 * stream. Pure: bytes in, a message out. Reference: PostgreSQL's "Logical Replication Message
 * Formats" chapter.
 */

export type TupleValue =
  | { readonly kind: 'null' }
  /** A TOASTed value the UPDATE did not change: the WAL does not carry it. */
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'text'; readonly text: string };

export interface RelationColumn {
  readonly name: string;
  readonly typeOid: number;
  readonly typeMod: number;
  /** Part of the replica identity (the primary key, by default). */
  readonly isKey: boolean;
}

export type PgOutputMessage =
  | { readonly tag: 'begin'; readonly finalLsn: bigint; readonly commitTime: Date; readonly xid: number }
  | { readonly tag: 'commit'; readonly commitLsn: bigint; readonly endLsn: bigint; readonly commitTime: Date }
  | {
      readonly tag: 'relation';
      readonly relationId: number;
      readonly schema: string;
      readonly table: string;
      /** 'd' default (primary key), 'n' nothing, 'f' full, 'i' an index. */
      readonly replicaIdentity: string;
      readonly columns: readonly RelationColumn[];
    }
  | { readonly tag: 'insert'; readonly relationId: number; readonly newTuple: readonly TupleValue[] }
  | {
      readonly tag: 'update';
      readonly relationId: number;
      /** The old key ('K') or whole old row ('O', replica identity full), when the WAL has it. */
      readonly oldTuple: readonly TupleValue[] | undefined;
      readonly oldKind: 'key' | 'full' | undefined;
      readonly newTuple: readonly TupleValue[];
    }
  | {
      readonly tag: 'delete';
      readonly relationId: number;
      readonly oldKind: 'key' | 'full';
      readonly oldTuple: readonly TupleValue[];
    }
  | { readonly tag: 'truncate'; readonly relationIds: readonly number[] }
  /** Origin, Type and logical Message: nothing realtime needs. */
  | { readonly tag: 'other'; readonly code: string };

/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
const PG_EPOCH_US = 946_684_800_000_000n;

export class PgOutputError extends Error {}

class Reader {
  offset = 0;
  constructor(private readonly buf: Uint8Array) {}
  private view = () => new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  private need(n: number) {
    if (this.offset + n > this.buf.byteLength)
      throw new PgOutputError(`pgoutput message truncated at byte ${this.offset}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.offset++] as number;
  }
  i16(): number {
    this.need(2);
    const v = this.view().getInt16(this.offset);
    this.offset += 2;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.view().getInt32(this.offset);
    this.offset += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.view().getBigUint64(this.offset);
    this.offset += 8;
    return v;
  }
  time(): Date {
    this.need(8);
    const us = this.view().getBigInt64(this.offset);
    this.offset += 8;
    return new Date(Number((us + PG_EPOCH_US) / 1000n));
  }
  cstring(): string {
    const end = this.buf.indexOf(0, this.offset);
    if (end < 0) throw new PgOutputError(`unterminated string at byte ${this.offset}`);
    const s = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.offset, end - this.offset).toString('utf8');
    this.offset = end + 1;
    return s;
  }
  bytes(n: number): string {
    this.need(n);
    const s = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.offset, n).toString('utf8');
    this.offset += n;
    return s;
  }
  char(): string {
    return String.fromCharCode(this.u8());
  }
}

function tuple(r: Reader): TupleValue[] {
  const count = r.i16();
  const values: TupleValue[] = [];
  for (let i = 0; i < count; i++) {
    const kind = r.char();
    if (kind === 'n') values.push({ kind: 'null' });
    else if (kind === 'u') values.push({ kind: 'unchanged' });
    else if (kind === 't') values.push({ kind: 'text', text: r.bytes(r.i32()) });
    else throw new PgOutputError(`unknown tuple column kind "${kind}" (binary values are not requested)`);
  }
  return values;
}

export function decodePgOutput(message: Uint8Array): PgOutputMessage {
  const r = new Reader(message);
  const code = r.char();
  switch (code) {
    case 'B':
      return { tag: 'begin', finalLsn: r.u64(), commitTime: r.time(), xid: r.i32() };
    case 'C': {
      r.u8(); // flags, unused
      return { tag: 'commit', commitLsn: r.u64(), endLsn: r.u64(), commitTime: r.time() };
    }
    case 'R': {
      const relationId = r.i32();
      const schema = r.cstring();
      const table = r.cstring();
      const replicaIdentity = r.char();
      const count = r.i16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < count; i++) {
        const flags = r.u8();
        columns.push({ name: r.cstring(), typeOid: r.i32() >>> 0, typeMod: r.i32(), isKey: (flags & 1) === 1 });
      }
      return { tag: 'relation', relationId, schema, table, replicaIdentity, columns };
    }
    case 'I': {
      const relationId = r.i32();
      expect(r.char(), 'N', 'Insert');
      return { tag: 'insert', relationId, newTuple: tuple(r) };
    }
    case 'U': {
      const relationId = r.i32();
      let kind = r.char();
      let oldTuple: TupleValue[] | undefined;
      let oldKind: 'key' | 'full' | undefined;
      if (kind === 'K' || kind === 'O') {
        oldKind = kind === 'K' ? 'key' : 'full';
        oldTuple = tuple(r);
        kind = r.char();
      }
      expect(kind, 'N', 'Update');
      return { tag: 'update', relationId, oldTuple, oldKind, newTuple: tuple(r) };
    }
    case 'D': {
      const relationId = r.i32();
      const kind = r.char();
      if (kind !== 'K' && kind !== 'O') throw new PgOutputError(`Delete: expected "K" or "O", got "${kind}"`);
      return { tag: 'delete', relationId, oldKind: kind === 'K' ? 'key' : 'full', oldTuple: tuple(r) };
    }
    case 'T': {
      const count = r.i32();
      r.u8(); // options (cascade, restart identity)
      const relationIds: number[] = [];
      for (let i = 0; i < count; i++) relationIds.push(r.i32());
      return { tag: 'truncate', relationIds };
    }
    case 'O':
    case 'Y':
    case 'M':
      return { tag: 'other', code };
    default:
      throw new PgOutputError(`unknown pgoutput message "${code}"`);
  }
}

function expect(got: string, wanted: string, message: string) {
  if (got !== wanted) throw new PgOutputError(`${message}: expected "${wanted}", got "${got}"`);
}

/** An LSN as PostgreSQL prints it (`16/B374D848`). */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function parseLsn(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi ?? '0'}`) << 32n) | BigInt(`0x${lo ?? '0'}`);
}
