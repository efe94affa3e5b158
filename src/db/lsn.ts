/**
 * PostgreSQL's log sequence numbers as the server prints them (`16/B374D848`: two hexadecimal
 * halves of a 64-bit position in the WAL), compared as bigints. Pure: the read-your-writes fence
 * parses what a client sends back with it.
 */

export type Lsn = bigint;

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** The LSN `text` names, or undefined when it is not one (`pg_lsn`'s input form). */
export function parseLsn(text: string): Lsn | undefined {
  const match = LSN_TEXT.exec(text.trim());
  if (!match) return undefined;
  return (BigInt(`0x${match[1] ?? '0'}`) << 32n) | BigInt(`0x${match[2] ?? '0'}`);
}

/** The form `pg_lsn` prints: upper-case hexadecimal, no leading zeros. */
export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}
