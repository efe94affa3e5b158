/** Names of monthly partitions (src/sql/0100_partitions.sql), for tests that look for them. */

/** `<table>_YYYY_MM` for the UTC month `offset` months from now. */
export function monthName(table: string, offset: number): string {
  const now = new Date();
  const at = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
  return `${table}_${at.getUTCFullYear()}_${String(at.getUTCMonth() + 1).padStart(2, '0')}`;
}
