/**
 * For `trellis move`: the pgmq queues of a source database made again on a target, since a queue
 * made outside migrations (`pgmq.create` from SQL, as Supabase's dashboard does) has tables no
 * migration makes. The move then copies their rows like any table's.
 */
import type pg from 'pg';

/** Makes on `target` each queue `source` has (as logged or unlogged as there); the names made. */
export async function recreateQueues(source: pg.ClientBase, target: pg.ClientBase): Promise<string[]> {
  const { rows } = await source.query<{ queue_name: string; is_unlogged: boolean }>(
    `select queue_name, is_unlogged from pgmq.meta order by queue_name`,
  );
  for (const q of rows)
    await target.query(q.is_unlogged ? 'select pgmq.create_unlogged($1)' : 'select pgmq.create($1)', [q.queue_name]);
  return rows.map((q) => q.queue_name);
}
